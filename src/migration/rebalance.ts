/**
 * A rebalance, from each server's measured load (two `stats` samples, loadFromStats): how far the
 * load is from even (loadShares, loadRatio, imbalance), and proposeRebalance: new weights that even
 * it out, and adding one server, each with the share of the hash space it moves and the load it
 * leaves. `memshift plan --rebalance` (src/cli/plan.ts) prints it once; a sidecar with
 * `autopilot.rebalance: suggest` (src/discovery/load-watch.ts) keeps it up to date.
 *
 * Estimates assume a server's traffic is spread evenly over the hash space it owns: a moved arc
 * keeps its old owner's load density. Pure: the stats come in as maps.
 */
import { splitHost } from '../config/address.js';
import { parseServerSpec } from '../config/server-spec.js';
import type { ServerSpec } from '../config/types.js';
import { movedArcs, statNumber, type RingSettings, type ServerStats } from './plan.js';
import type { MovedArcs, MovedShare } from './arcs.js';

/** What a server holds and serves, from two `stats` samples. */
export interface ServerLoad {
  readonly items: number;
  readonly bytes: number;
  readonly getsPerSec: number;
  readonly setsPerSec: number;
}

/**
 * A server's load from two `stats` samples taken `seconds` apart: items and bytes from the second,
 * get and set rates from the `cmd_get` / `cmd_set` deltas (0 when a counter went back: a restart).
 * Null when the first sample or its items/bytes are missing; without a second sample the rates are 0.
 */
export function loadFromStats(first: ServerStats, second: ServerStats, seconds: number): ServerLoad | null {
  const last = second ?? first;
  const items = statNumber(last, 'curr_items');
  const bytes = statNumber(last, 'bytes');
  if (first === null || items === null || bytes === null) return null;
  const rate = (name: string): number => {
    const a = statNumber(first, name);
    const b = statNumber(second, name);
    return a === null || b === null || !(seconds > 0) || b < a ? 0 : (b - a) / seconds;
  };
  return { items, bytes, getsPerSec: rate('cmd_get'), setsPerSec: rate('cmd_set') };
}

/**
 * "Load": each server's part of the group's work, a fraction summing to 1 over the servers. It is
 * the mean of its share of the group's bytes and its share of the group's ops (gets + sets per
 * second), so memory and traffic weigh the same. A part whose group total is 0 is left out (an
 * idle group is loaded by bytes alone); with neither, items shares. Null when a load is unknown or
 * the group is empty.
 */
export function loadShares(loads: readonly (ServerLoad | null)[]): number[] | null {
  if (loads.length === 0 || loads.some((l) => l === null)) return null;
  const known = loads as readonly ServerLoad[];
  const parts: ((l: ServerLoad) => number)[] = [];
  for (const part of [(l: ServerLoad) => l.bytes, (l: ServerLoad) => l.getsPerSec + l.setsPerSec]) {
    if (known.reduce((t, l) => t + part(l), 0) > 0) parts.push(part);
  }
  if (parts.length === 0 && known.some((l) => l.items > 0)) parts.push((l) => l.items);
  if (parts.length === 0) return null;
  const totals = parts.map((part) => known.reduce((t, l) => t + part(l), 0));
  return known.map((l) => parts.reduce((t, part, p) => t + part(l) / totals[p]!, 0) / parts.length);
}

/** Max over mean of a load vector (1 is perfectly even). */
export function loadRatio(loads: readonly number[]): number {
  const total = loads.reduce((t, l) => t + l, 0);
  return total > 0 ? (Math.max(...loads) * loads.length) / total : 1;
}

/**
 * How far a load vector is from even: how much more than its fair share (the mean, 1/n of the
 * group's load) the busiest server carries, as a fraction: max/mean − 1. 0 is even; 0.5 is a server
 * with 1.5× its fair share; n − 1 is all the load on one server of n.
 */
export function imbalance(loads: readonly number[]): number {
  return Math.max(0, loadRatio(loads) - 1);
}

/**
 * The load each new server would carry: every arc keeps its load density (its old owner's load
 * over that owner's share), so a new owner's load is the sum over the arcs it gets.
 */
export function predictLoads(arcs: MovedArcs, loads: readonly number[]): number[] {
  const oldShares = arcs.oldShares();
  const next = new Array<number>(arcs.newServers.length).fill(0);
  for (const f of arcs.flows()) {
    const owned = oldShares[f.from] ?? 0;
    if (owned > 0) next[f.to] = (next[f.to] ?? 0) + ((loads[f.from] ?? 0) * f.share) / owned;
  }
  return next;
}

export interface RebalanceInput {
  readonly servers: readonly ServerSpec[];
  readonly pool: RingSettings;
  readonly group?: string;
  /** Each server's load by address; missing or null: unknown. */
  readonly loads: ReadonlyMap<string, ServerLoad | null>;
  /** The server the "add" proposal adds (default NEW:11211); its weight is the average unless its string gives one. */
  readonly add?: ServerSpec;
}

export interface ServerLoadRow {
  readonly address: string;
  readonly name: string | null;
  readonly weight: number;
  /** Share of the hash space. */
  readonly share: number;
  readonly items: number | null;
  readonly bytes: number | null;
  readonly getsPerSec: number | null;
  readonly setsPerSec: number | null;
  /** Its part of the group's load (see loadShares), in [0, 1]. */
  readonly load: number | null;
}

export interface RebalanceProposal {
  readonly kind: 'reweight' | 'add';
  /** The proposed server list, as server strings. */
  readonly servers: readonly string[];
  /** Weight changes (reweight) or the added server with its weight (add). */
  readonly changes: readonly { readonly address: string; readonly from: number | null; readonly to: number }[];
  readonly movedShare: number;
  readonly moves: readonly MovedShare[];
  /** Estimated load per proposed server, and its max/mean; null when loads are unknown. */
  readonly loads: readonly number[] | null;
  readonly loadRatio: number | null;
}

export interface RebalanceReport {
  readonly pool: string;
  readonly group: string;
  readonly servers: readonly ServerLoadRow[];
  /** max/mean of the current loads. */
  readonly loadRatio: number | null;
  /** Null when a server's load is unknown. */
  readonly reweight: RebalanceProposal | null;
  readonly add: RebalanceProposal;
}

export const PLACEHOLDER_SERVER = 'NEW:11211';

/** Weight scales tried for the reweight proposal: more resolution, same ring size (ketama spreads 160 points per server by weight share). */
const SCALES = [1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 25, 32, 40, 50, 64, 100];
/** Smaller weights within this much of the best max/mean win: simpler, and fitted less to ring noise. */
const RATIO_EPSILON = 0.02;
/** An idle server counts as carrying at least this fraction of the mean load (caps its new weight at 10×). */
const MIN_LOAD_OF_MEAN = 0.1;
/** Weight vectors tried per scale: the proportional step, then refinements on the predicted loads. */
const REFINE_ROUNDS = 4;

export function proposeRebalance(input: RebalanceInput): RebalanceReport {
  const { servers, pool } = input;
  const { rows, loads } = loadRows(servers, pool, input.loads);
  return {
    pool: pool.name,
    group: input.group ?? pool.name,
    servers: rows,
    loadRatio: loads === null ? null : loadRatio(loads),
    reweight: loads === null ? null : finish(reweightSteps(pool, servers, loads)),
    add: addServer(pool, servers, loads, input.add),
  };
}

/** Each server's row (its share of the hash space, its measured load), and the load shares (loadShares). */
export function loadRows(servers: readonly ServerSpec[], pool: RingSettings, measuredLoads: ReadonlyMap<string, ServerLoad | null>): { rows: ServerLoadRow[]; loads: number[] | null } {
  const shares = movedArcs(pool, servers, servers).newShares();
  const measured = servers.map((s) => measuredLoads.get(s.address) ?? null);
  const loads = loadShares(measured);
  const rows: ServerLoadRow[] = servers.map((s, i) => {
    const m = measured[i] ?? null;
    return {
      address: s.address,
      name: s.name ?? null,
      weight: s.weight,
      share: shares[i] ?? 0,
      items: m?.items ?? null,
      bytes: m?.bytes ?? null,
      getsPerSec: m?.getsPerSec ?? null,
      setsPerSec: m?.setsPerSec ?? null,
      load: loads?.[i] ?? null,
    };
  });
  return { rows, loads };
}

/** Runs steps to their end at once. */
function finish<T>(steps: Generator<void, T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done === true) return r.value;
  }
}

/**
 * The reweight proposal for `loads` (loadShares): weight' ∝ weight × mean / load, rounded (min 1).
 * Moved arcs keep their old owner's load density, so one step overshoots or falls short; each scale
 * refines a few times with the predicted loads (weight ×= mean / predicted load). Of all the weight
 * vectors tried, the one with the smallest total weight whose estimated max/mean is within
 * RATIO_EPSILON of the lowest wins.
 *
 * A generator: it yields after each ring it builds and compares (a few ms each for tens of servers,
 * up to some 70 of them), so a caller on the event loop that serves clients
 * (src/discovery/load-watch.ts) lets their requests run in between; proposeRebalance runs it at once.
 */
export function* reweightSteps(pool: RingSettings, servers: readonly ServerSpec[], loads: readonly number[]): Generator<void, RebalanceProposal> {
  const mean = 1 / servers.length;
  const step = (weights: readonly number[], now: readonly number[]): number[] =>
    weights.map((w, i) => (w * mean) / Math.max(now[i] ?? 0, mean * MIN_LOAD_OF_MEAN));
  const current = servers.map((s) => s.weight);
  const currentKey = lowestTerms(current).join(',');
  const start = step(current, loads);
  const tried = new Map<string, { proposal: RebalanceProposal; total: number }>();
  for (const scale of SCALES) {
    let raw = start.map((r) => r * scale);
    for (let round = 0; round < REFINE_ROUNDS; round++) {
      const reduced = lowestTerms(raw.map((r) => Math.max(1, Math.round(r))));
      const key = reduced.join(',');
      // Weights proportional to the current ones are the current ring: keep them as written.
      const weights = key === currentKey ? current : reduced;
      let seen = tried.get(key);
      if (seen === undefined) {
        const next = servers.map((s, i) => withWeight(s, weights[i]!));
        const proposal = evaluate('reweight', pool, servers, next, loads);
        proposal.changes.push(...servers.flatMap((s, i) => (s.weight === weights[i] ? [] : [{ address: s.address, from: s.weight, to: weights[i]! }])));
        seen = { proposal, total: weights.reduce((t, w) => t + w, 0) };
        tried.set(key, seen);
        yield;
      }
      raw = step(raw, seen.proposal.loads ?? []);
    }
  }
  const candidates = [...tried.values()];
  const lowest = Math.min(...candidates.map((c) => c.proposal.loadRatio ?? Infinity));
  const good = candidates.filter((c) => (c.proposal.loadRatio ?? Infinity) <= lowest + RATIO_EPSILON);
  good.sort((a, b) => a.total - b.total || (a.proposal.loadRatio ?? 0) - (b.proposal.loadRatio ?? 0));
  return good[0]!.proposal;
}

/** The "add" proposal: one more server, `add` (default NEW:11211, with the average weight unless its string gives one). */
export function addServer(pool: RingSettings, servers: readonly ServerSpec[], loads: readonly number[] | null, add: ServerSpec = specOf(PLACEHOLDER_SERVER)): RebalanceProposal {
  if (servers.some((s) => s.address.toLowerCase() === add.address.toLowerCase())) {
    throw new RangeError(`${add.address} is already in the pool`);
  }
  const average = Math.max(1, Math.round(servers.reduce((t, s) => t + s.weight, 0) / servers.length));
  const added = hasExplicitWeight(add) ? add : withWeight(add, average);
  const proposal = evaluate('add', pool, servers, [...servers, added], loads);
  proposal.changes.push({ address: added.address, from: null, to: added.weight });
  return proposal;
}

type Draft = RebalanceProposal & { changes: { address: string; from: number | null; to: number }[] };

function evaluate(kind: RebalanceProposal['kind'], pool: RingSettings, servers: readonly ServerSpec[], next: readonly ServerSpec[], loads: readonly number[] | null): Draft {
  const arcs = movedArcs(pool, servers, next);
  const predicted = loads === null ? null : predictLoads(arcs, loads);
  return {
    kind,
    servers: next.map((s) => s.raw),
    changes: [],
    movedShare: arcs.movedShare,
    moves: arcs.shares(),
    loads: predicted,
    loadRatio: predicted === null ? null : loadRatio(predicted),
  };
}

/** Weights divided by their greatest common divisor: the same shares (the ring counts weight / total). */
function lowestTerms(weights: number[]): number[] {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const d = weights.reduce(gcd, 0);
  return d > 1 ? weights.map((w) => w / d) : weights;
}

/** The same server with another weight, and its server string rewritten to match. */
export function withWeight(s: ServerSpec, weight: number): ServerSpec {
  const raw = `${s.address}:${weight}${s.name === undefined ? '' : ` ${s.name}`}`;
  return { ...s, weight, raw };
}

/** Whether the server string gave a weight (`host:port:weight`), not the default 1. */
function hasExplicitWeight(s: ServerSpec): boolean {
  const split = splitHost(s.raw.trim().split(/\s+/)[0] ?? '', '');
  return split.ok && split.value.fields.length === 2;
}

function specOf(text: string): ServerSpec {
  const parsed = parseServerSpec(text);
  if (!parsed.ok) throw new RangeError(parsed.error);
  return parsed.value;
}
