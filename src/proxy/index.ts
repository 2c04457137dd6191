export { ProxyStats } from './stats.js';
export { Dispatcher } from './dispatcher.js';
