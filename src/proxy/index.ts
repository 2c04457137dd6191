export { startProxy, type ProxyServer } from './server.js';
export { ProxyStats } from './stats.js';
export { Dispatcher } from './dispatcher.js';
