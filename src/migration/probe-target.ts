/**
 * Which servers `memshift plan`'s probe (src/copy/probe.ts) measures for a change of server list:
 * the old owners that lose keys (the one losing most first: it is the copy's source), the new owner
 * that gains most (the copy's target), and the metadumps to time (those servers, at most four),
 * each read with the migration's filter (keys on moved arcs, never memshift's own). The same choice
 * whether the CLI probes or a sidecar does (POST /migration/probe). A route migration (a prefix
 * moving to another pool) has no shares: its losing and gaining servers are taken in ring order.
 */
import type { ServerSpec } from '../config/types.js';
import { isReserved } from '../protocol/index.js';
import { MovedArcs } from './arcs.js';
import type { MovedKeys } from './moved-keys.js';

export interface ProbeTarget {
  readonly sources: readonly ServerSpec[];
  readonly target: ServerSpec;
  readonly dumps: readonly ServerSpec[];
  readonly filter: (key: Buffer) => boolean;
}

const MAX_DUMPS = 4;

/** Null when nothing moves. */
export function probeTarget(moved: MovedKeys): ProbeTarget | null {
  const { losing: sources, gaining } = moved instanceof MovedArcs ? byShare(moved) : moved.movingServers();
  const target = gaining[0];
  if (sources.length === 0 || target === undefined) return null;
  const dumps = [...sources, ...gaining.filter((g) => !sources.includes(g))].slice(0, MAX_DUMPS);
  return { sources, target, dumps, filter: (k) => !isReserved(k) && moved.moved(moved.locate(k)) };
}

/** The servers that lose and gain keys, the one with the largest share first. */
function byShare(arcs: MovedArcs): { losing: ServerSpec[]; gaining: ServerSpec[] } {
  const lose = new Map<string, number>();
  const gain = new Map<string, number>();
  for (const m of arcs.shares()) {
    lose.set(m.from, (lose.get(m.from) ?? 0) + m.share);
    gain.set(m.to, (gain.get(m.to) ?? 0) + m.share);
  }
  const order = (shares: Map<string, number>, servers: readonly ServerSpec[]): ServerSpec[] =>
    [...shares].sort((a, b) => b[1] - a[1]).map(([address]) => servers.find((s) => s.address === address)!);
  return { losing: order(lose, arcs.oldServers), gaining: order(gain, arcs.newServers) };
}
