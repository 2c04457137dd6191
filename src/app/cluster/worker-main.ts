/** The entry of a worker process of `workers: N` (node:cluster forks it: primary.ts). */
import { runWorker } from './worker.js';

void runWorker();
