/**
 * One flush per event-loop turn: everything that wants to write (backend
 * connections, client connections) registers here while requests and replies
 * are processed, and all of it is written in one setImmediate pass. A burst from
 * many clients thus becomes one write per socket.
 */

export interface Flushable {
  flush(): void;
}

let dirty: Flushable[] = [];
let scheduled = false;

function run(): void {
  scheduled = false;
  // Flushing may make other sockets dirty (e.g. a local reply); loop until quiet.
  for (let rounds = 0; dirty.length > 0 && rounds < 8; rounds++) {
    const batch = dirty;
    dirty = [];
    for (let i = 0; i < batch.length; i++) batch[i]!.flush();
  }
  if (dirty.length > 0 && !scheduled) {
    scheduled = true;
    setImmediate(run);
  }
}

/** Call once per flushable per turn (the caller keeps its own dirty flag). */
export function scheduleFlush(f: Flushable): void {
  dirty.push(f);
  if (!scheduled) {
    scheduled = true;
    setImmediate(run);
  }
}
