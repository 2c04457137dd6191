export { BackendConnection, Op, type OpHandler, type BackendState, type ConnectionOptions } from './connection.js';
export { Backend, BackendPool } from './pool.js';
export { scheduleFlush, type Flushable } from './flush-scheduler.js';
export { backendRequest, backendStats, line } from './request.js';
export { dial, dialHost, endpointId, endpointOf, pointName, readyEvent, type Endpoint } from './dial.js';

export { onSocketData } from './socket-data.js';
