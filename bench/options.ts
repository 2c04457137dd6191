/** Command-line options every bench scenario shares: the memcaslap load and the rounds. */

export interface LoadOptions {
  rounds: number;
  durationS: number;
  concurrency: number;
  threads: number;
  json: boolean;
}

/** parseArgs `options` for the shared flags. */
export const LOAD_FLAGS = {
  rounds: { type: 'string', default: '3' },
  duration: { type: 'string', default: '10s' },
  concurrency: { type: 'string', default: '50' },
  threads: { type: 'string', default: '1' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export function positive(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

export function seconds(value: string): number {
  const m = /^(\d+)(s|m)?$/.exec(value.trim());
  if (m === null || Number(m[1]) < 1) throw new Error(`--duration must look like 10s, 2m or 10, got ${JSON.stringify(value)}`);
  return Number(m[1]) * (m[2] === 'm' ? 60 : 1);
}

/** The shared flags' values, checked. */
export function loadOptions(values: { rounds: string; duration: string; concurrency: string; threads: string; json: boolean }): LoadOptions {
  return {
    rounds: positive('rounds', values.rounds),
    durationS: seconds(values.duration),
    concurrency: positive('concurrency', values.concurrency),
    threads: positive('threads', values.threads),
    json: values.json,
  };
}
