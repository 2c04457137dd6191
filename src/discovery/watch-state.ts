/**
 * What a pool (or replica group) makes of its DNS answers over time: a pure transition function,
 * tested with a fake clock; watch.ts feeds it real look-ups.
 *
 *   answer ─► candidate (the latest good set) ──unchanged for min_stable, not flapping──► stable
 *   error / zero records ─► counted and logged; candidate and stable stay (never an empty ring)
 *
 * Sets are compared by their ring (each server's ring identity), not by addresses: a StatefulSet pod
 * back with a new address under the same name changes no key's owner, so the stable set takes the
 * new address at once (`addresses`), without waiting for min_stable. A change of members waits until
 * the candidate was seen unchanged for `min_stable`: first seen at t, promoted by an answer at
 * t + min_stable or later that still shows it, with no other set seen in between.
 *
 * Flapping: the candidate returning to a set it had shortly before (A → B → A) is a blip, which
 * min_stable already absorbs; `flapReturns` such returns within `flapWindowMs` (A → B → A → B) make
 * the set flap, and the stable set is then held, however long the candidate stays, until the
 * returns age out of the window. A growth step by step (3 → 4 → 5) returns nowhere and never flaps.
 */
import { type DiscoveredServer, ringIdentity } from './resolve.js';

export interface WatchSettings {
  /** Re-resolve period. */
  readonly intervalMs: number;
  /** How long a new set must be seen unchanged before it becomes the stable set. */
  readonly minStableMs: number;
  /** Never re-resolve sooner than this, whatever the TTL (default 1 s). */
  readonly floorMs: number;
  /** Returns to an earlier set within the window that make the set flap (default 2). */
  readonly flapReturns: number;
  /** The window flapping is judged over (default the longer of 10 intervals and 4 × min_stable). */
  readonly flapWindowMs: number;
}

export function watchSettings(s: Pick<WatchSettings, 'intervalMs' | 'minStableMs'> & Partial<WatchSettings>): WatchSettings {
  return {
    floorMs: 1_000,
    flapReturns: 2,
    flapWindowMs: Math.max(10 * s.intervalMs, 4 * s.minStableMs),
    ...s,
  };
}

/** A server list with its ring key (identities in order): equal rings, equal keys. */
export interface ServerSet {
  readonly servers: readonly DiscoveredServer[];
  readonly ring: string;
}

export function serverSet(servers: readonly DiscoveredServer[]): ServerSet {
  return { servers, ring: servers.map(ringIdentity).join(',') };
}

const addressesOf = (set: ServerSet): string => set.servers.map((s) => s.address).join(',');

export interface WatchState {
  /** The set the pool should run; undefined until the first good answer (or an initial set). */
  readonly stable: ServerSet | undefined;
  /** The latest good answer. */
  readonly candidate: ServerSet | undefined;
  /** When the candidate's ring was first seen (since the last different one). */
  readonly candidateSince: number;
  /** The candidate's ring changes within the flap window: when, and the ring before and after. */
  readonly history: readonly { readonly at: number; readonly from: string; readonly to: string }[];
  readonly flapping: boolean;
  /** The last good answer's smallest TTL, in ms. */
  readonly ttlMs: number | undefined;
  /** Consecutive failed look-ups (0 after a good one). */
  readonly failing: number;
  readonly lastError: string | undefined;
}

export type WatchInput =
  | { readonly type: 'resolved'; readonly servers: readonly DiscoveredServer[]; readonly ttlSeconds: number | undefined }
  | { readonly type: 'failed'; readonly error: string };

export type WatchEvent =
  /** The first stable set (no initial set was given). */
  | { readonly type: 'initial'; readonly servers: readonly DiscoveredServer[] }
  /** The candidate's ring changed: a change waits for min_stable. */
  | { readonly type: 'candidate'; readonly servers: readonly DiscoveredServer[]; readonly stableInMs: number }
  /** The answer is the stable ring again: the change that waited is dropped. */
  | { readonly type: 'withdrawn' }
  /** The stable ring changed. */
  | { readonly type: 'stable'; readonly from: readonly DiscoveredServer[]; readonly to: readonly DiscoveredServer[] }
  /** The stable ring is the same, some of its servers have new addresses. */
  | { readonly type: 'addresses'; readonly servers: readonly DiscoveredServer[] }
  | { readonly type: 'flapping'; readonly returns: number }
  | { readonly type: 'steady' }
  /** A look-up failed; `first` when the one before had not. */
  | { readonly type: 'failure'; readonly error: string; readonly first: boolean }
  | { readonly type: 'recovered'; readonly failures: number };

export function initialWatchState(initial?: readonly DiscoveredServer[]): WatchState {
  const set = initial === undefined || initial.length === 0 ? undefined : serverSet(initial);
  return { stable: set, candidate: set, candidateSince: 0, history: [], flapping: false, ttlMs: undefined, failing: 0, lastError: undefined };
}

/** Ring changes in the window that went back to a ring seen earlier in it (or just before it). */
function returnsIn(history: WatchState['history']): number {
  const seen = new Set<string>();
  let returns = 0;
  for (const h of history) {
    seen.add(h.from);
    if (seen.has(h.to)) returns++;
    seen.add(h.to);
  }
  return returns;
}

/** The stable servers, each with its address from `latest` when it is there under the same identity. */
function withLatestAddresses(stable: ServerSet, latest: ServerSet): ServerSet {
  const byIdentity = new Map(latest.servers.map((s) => [ringIdentity(s), s]));
  return { ring: stable.ring, servers: stable.servers.map((s) => byIdentity.get(ringIdentity(s)) ?? s) };
}

/** The state after one look-up, and what changed. Pure: `now` is a monotonic time in ms. */
export function watchNext(state: WatchState, input: WatchInput, now: number, settings: WatchSettings): { state: WatchState; events: WatchEvent[] } {
  const events: WatchEvent[] = [];
  if (input.type === 'failed') {
    events.push({ type: 'failure', error: input.error, first: state.failing === 0 });
    const flap = flapUpdate({ ...state, failing: state.failing + 1, lastError: input.error }, now, settings);
    return { state: flap.state, events: [...events, ...flap.events] };
  }
  if (state.failing > 0) events.push({ type: 'recovered', failures: state.failing });
  const latest = serverSet(input.servers);
  const ttlMs = input.ttlSeconds === undefined ? undefined : input.ttlSeconds * 1000;
  const { stable } = state;
  if (stable === undefined) {
    events.push({ type: 'initial', servers: latest.servers });
    return { state: { ...state, stable: latest, candidate: latest, candidateSince: now, failing: 0, lastError: undefined, ttlMs }, events };
  }
  let { candidateSince, history } = state;
  if (state.candidate?.ring !== latest.ring) {
    candidateSince = now;
    history = [...history, { at: now, from: state.candidate?.ring ?? stable.ring, to: latest.ring }];
    events.push(latest.ring === stable.ring ? { type: 'withdrawn' } : { type: 'candidate', servers: latest.servers, stableInMs: settings.minStableMs });
  }
  const flap = flapUpdate({ ...state, candidate: latest, candidateSince, history, failing: 0, lastError: undefined, ttlMs }, now, settings);
  events.push(...flap.events);
  const next = flap.state;
  if (latest.ring === stable.ring) {
    if (addressesOf(latest) === addressesOf(stable)) return { state: next, events };
    events.push({ type: 'addresses', servers: latest.servers });
    return { state: { ...next, stable: latest }, events };
  }
  if (!next.flapping && now - candidateSince >= settings.minStableMs) {
    events.push({ type: 'stable', from: stable.servers, to: latest.servers });
    return { state: { ...next, stable: latest }, events };
  }
  // The change waits; the servers it keeps follow their new addresses meanwhile.
  const refreshed = withLatestAddresses(stable, latest);
  if (addressesOf(refreshed) === addressesOf(stable)) return { state: next, events };
  events.push({ type: 'addresses', servers: refreshed.servers });
  return { state: { ...next, stable: refreshed }, events };
}

/** Drops ring changes older than the window and decides whether the set flaps. */
function flapUpdate(state: WatchState, now: number, settings: WatchSettings): { state: WatchState; events: WatchEvent[] } {
  const history = state.history.filter((h) => now - h.at < settings.flapWindowMs);
  const returns = returnsIn(history);
  const flapping = returns >= settings.flapReturns;
  const events: WatchEvent[] = [];
  if (flapping && !state.flapping) events.push({ type: 'flapping', returns });
  if (!flapping && state.flapping) events.push({ type: 'steady' });
  return { state: { ...state, history, flapping }, events };
}

/**
 * When to resolve next, in ms from `now`: the interval, sooner when the last answer's TTL runs out
 * first or when the candidate would become stable first, never sooner than the floor.
 */
export function nextResolveInMs(state: WatchState, now: number, settings: WatchSettings): number {
  let delay = settings.intervalMs;
  if (state.ttlMs !== undefined) delay = Math.min(delay, state.ttlMs);
  const pending = state.candidate !== undefined && state.stable !== undefined && state.candidate.ring !== state.stable.ring;
  if (pending && !state.flapping) delay = Math.min(delay, state.candidateSince + settings.minStableMs - now);
  return Math.max(settings.floorMs, delay);
}
