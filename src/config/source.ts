/**
 * Where a running memshift reads its config again (hot reload):
 *
 *   FileSource  the -c file: read on SIGHUP and POST /reload, and watched (its size, mtime and
 *               content are polled; a Kubernetes ConfigMap swaps a symlink, which this sees too).
 *   UrlSource   --config-url: an HTTP(S) document polled with If-None-Match (undici); a 304 or an
 *               unchanged body is no change. A failed fetch is logged and tried again next poll.
 *
 * Both hand over a validated Config (or throw ConfigError); what may change is decided by the
 * reload (src/config/reload.ts), not here.
 */
import { createHash } from 'node:crypto';
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { request } from 'undici';
import { loadConfigFile, parseConfig } from './load.js';
import type { Config } from './types.js';

export interface ConfigWatcher {
  /** Reads (or fetches) the config now; the watch takes it as seen. */
  load(): Promise<Config>;
  /** Reads (or fetches) the config without taking it as seen: a change stays a change for the watch (a dry run). */
  peek(): Promise<Config>;
  /** Calls `onChange` when the source changes, until `stop`. */
  watch(onChange: () => void, onError: (err: Error) => void): void;
  stop(): void;
  readonly name: string;
}

const digest = (text: string | Buffer): string => createHash('sha256').update(text).digest('hex');

/** A config document larger than this is refused (memory stays bounded). */
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

export class FileSource implements ConfigWatcher {
  #seen: string | null = null;
  #watching = false;

  constructor(
    readonly path: string,
    readonly intervalMs = 2_000,
  ) {}

  get name(): string {
    return this.path;
  }

  load(): Promise<Config> {
    return Promise.resolve(this.loadSync());
  }

  peek(): Promise<Config> {
    return Promise.resolve(loadConfigFile(this.path));
  }

  loadSync(): Config {
    let bytes: Buffer;
    try {
      bytes = readFileSync(this.path);
    } catch {
      return loadConfigFile(this.path); // throws its own error for an unreadable file
    }
    // The digest of the very bytes parsed: a change that lands meanwhile is seen by the next poll.
    const config = parseConfig(bytes.toString('utf8'), this.path);
    this.#seen = digest(bytes);
    return config;
  }

  #digest(): string | null {
    try {
      return digest(readFileSync(this.path));
    } catch {
      return null;
    }
  }

  watch(onChange: () => void): void {
    this.#seen ??= this.#digest();
    this.#watching = true;
    watchFile(this.path, { interval: this.intervalMs, persistent: false }, () => {
      // mtime or size moved; only a different content is a change (an editor's save may touch twice).
      const now = this.#digest();
      if (now === null || now === this.#seen) return;
      this.#seen = now;
      onChange();
    });
  }

  stop(): void {
    if (this.#watching) unwatchFile(this.path);
    this.#watching = false;
  }
}

export class UrlSource implements ConfigWatcher {
  #etag: string | null = null;
  /** The last document fetched, and its digest. */
  #text: string | null = null;
  #seen: string | null = null;
  #timer: NodeJS.Timeout | null = null;

  constructor(
    readonly url: string,
    readonly pollMs = 30_000,
    readonly timeoutMs = 10_000,
  ) {
    if (!/^https?:\/\//.test(url)) throw new Error(`--config-url must be an http:// or https:// URL, got "${url}"`);
  }

  get name(): string {
    return this.url;
  }

  /** Fetches the document (If-None-Match); true when it differs from the last one fetched. */
  async fetch(): Promise<boolean> {
    const got = await this.#get(this.#etag !== null && this.#text !== null ? this.#etag : null);
    if (got === null) return false;
    this.#etag = got.etag;
    const d = digest(got.text);
    const changed = d !== this.#seen;
    this.#text = got.text;
    this.#seen = d;
    return changed;
  }

  /** GET (conditional on `etag`): the document and its ETag, or null for a 304. */
  async #get(etag: string | null): Promise<{ text: string; etag: string | null } | null> {
    const headers: Record<string, string> = { accept: 'application/yaml, text/yaml, text/plain, */*' };
    if (etag !== null) headers['if-none-match'] = etag;
    const res = await request(this.url, { headers, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs });
    if (res.statusCode === 304 && etag !== null) {
      await res.body.dump();
      return null;
    }
    const length = Number(res.headers['content-length'] ?? 0);
    if (length > MAX_CONFIG_BYTES) {
      res.body.destroy();
      throw new Error(`config URL ${this.url}: ${length} bytes, more than the ${MAX_CONFIG_BYTES} a config may have`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > MAX_CONFIG_BYTES) {
        res.body.destroy();
        throw new Error(`config URL ${this.url}: more than the ${MAX_CONFIG_BYTES} bytes a config may have`);
      }
      chunks.push(chunk as Buffer);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    if (res.statusCode !== 200) throw new Error(`config URL ${this.url} answered ${res.statusCode}`);
    const tag = res.headers.etag;
    return { text, etag: typeof tag === 'string' ? tag : null };
  }

  /** Fetches the document and parses it (ConfigError when it is not a valid config). */
  async load(): Promise<Config> {
    await this.fetch();
    return parseConfig(this.#text!, this.url);
  }

  /** Fetches the document unconditionally and parses it, leaving what the poll has seen as it was. */
  async peek(): Promise<Config> {
    const got = await this.#get(null);
    return parseConfig(got!.text, this.url);
  }

  /** The document fetched last, parsed (after `watch` saw it change). */
  parsed(): Config {
    return parseConfig(this.#text!, this.url);
  }

  watch(onChange: () => void, onError: (err: Error) => void): void {
    const poll = async (): Promise<void> => {
      try {
        if (await this.fetch()) onChange();
      } catch (err) {
        onError(err as Error);
      }
      if (this.#timer !== null) this.#timer = setTimeout(() => void poll(), this.pollMs).unref();
    };
    this.#timer = setTimeout(() => void poll(), this.pollMs).unref();
  }

  stop(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
