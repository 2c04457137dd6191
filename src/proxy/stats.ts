/**
 * memshift's own counters, in memcached's names, as plain numbers on the hot
 * path. `stats` prints them in memcached's format; metrics read them later.
 */
import { Cmd, type Request, isPrefix, countValueBlocks } from '../protocol/index.js';
import { ReplyMemory } from './reply-memory.js';

export class ProxyStats {
  readonly startedAt = Date.now();
  /** Reply bytes held for all clients, and its bound (set from limits.max_reply_memory). */
  readonly replyMemory = new ReplyMemory(0);
  currConnections = 0;
  totalConnections = 0;
  rejectedConnections = 0;
  binaryRejected = 0;
  /** Client TLS handshakes that failed (memcached's name). */
  sslHandshakeErrors = 0;
  cmdGet = 0;
  cmdSet = 0;
  cmdFlush = 0;
  cmdTouch = 0;
  cmdMeta = 0;
  getHits = 0;
  getMisses = 0;
  getErrors = 0;
  deleteHits = 0;
  deleteMisses = 0;
  incrHits = 0;
  incrMisses = 0;
  decrHits = 0;
  decrMisses = 0;
  casHits = 0;
  casMisses = 0;
  casBadval = 0;
  touchHits = 0;
  touchMisses = 0;
  backendErrors = 0;
  /** Replies memshift gave itself for bad input: CLIENT_ERROR, ERROR (unknown command), SERVER_ERROR (too large, ...). */
  clientErrors = 0;
  unknownCommands = 0;
  localServerErrors = 0;
  /** Connections closed where memcached closes them (a line too long, a bad data chunk, ...). */
  protocolCloses = 0;
  bytesRead = 0;
  bytesWritten = 0;
  clientPauses = 0;

  reset(): void {
    for (const k of Object.keys(this) as (keyof this)[]) {
      if (k !== 'startedAt' && k !== 'currConnections' && typeof this[k] === 'number') (this[k] as number) = 0;
    }
  }

  /** Count a reply memshift gives itself (the parser's answer to bad input). */
  countLocal(reply: Buffer): void {
    const c = reply[0];
    if (c === 0x43 && isPrefix(reply, 0, 'CLIENT_ERROR')) this.clientErrors++;
    else if (c === 0x45 && isPrefix(reply, 0, 'ERROR')) this.unknownCommands++;
    else if (c === 0x53 && isPrefix(reply, 0, 'SERVER_ERROR')) this.localServerErrors++;
  }

  /** Count one single-key reply from a backend (hits and misses as memcached counts them). */
  countReply(req: Request, reply: Buffer): void {
    switch (req.cmd) {
      case Cmd.Get:
      case Cmd.Gets:
        this.countRetrieval(false, req.keys.length, countValueBlocks(reply));
        break;
      case Cmd.Gat:
      case Cmd.Gats:
        this.countRetrieval(true, req.keys.length, countValueBlocks(reply));
        break;
      case Cmd.Set:
      case Cmd.Add:
      case Cmd.Replace:
      case Cmd.Append:
      case Cmd.Prepend:
        this.cmdSet++;
        break;
      case Cmd.Cas:
        this.cmdSet++;
        if (isPrefix(reply, 0, 'STORED')) this.casHits++;
        else if (isPrefix(reply, 0, 'EXISTS')) this.casBadval++;
        else if (isPrefix(reply, 0, 'NOT_FOUND')) this.casMisses++;
        break;
      case Cmd.Delete:
        if (isPrefix(reply, 0, 'DELETED')) this.deleteHits++;
        else this.deleteMisses++;
        break;
      case Cmd.Incr:
        if (isPrefix(reply, 0, 'NOT_FOUND')) this.incrMisses++;
        else this.incrHits++;
        break;
      case Cmd.Decr:
        if (isPrefix(reply, 0, 'NOT_FOUND')) this.decrMisses++;
        else this.decrHits++;
        break;
      case Cmd.Touch:
        this.cmdTouch++;
        if (isPrefix(reply, 0, 'TOUCHED')) this.touchHits++;
        else this.touchMisses++;
        break;
      default:
        this.cmdMeta++;
    }
  }

  /** A get/gets (or gat/gats, counted as touches, as memcached does) of `keys` keys with `hits` hits. */
  countRetrieval(touch: boolean, keys: number, hits: number): void {
    if (touch) {
      this.cmdTouch += keys;
      this.touchHits += hits;
      this.touchMisses += keys - hits;
    } else {
      this.cmdGet += keys;
      this.getHits += hits;
      this.getMisses += keys - hits;
    }
  }

  /** memcached's general stats, then memshift's own `memshift_` fields. */
  format(version: string, extra: readonly [string, string | number][]): string {
    const now = Date.now();
    const usage = process.resourceUsage();
    const fields: [string, string | number][] = [
      ['pid', process.pid],
      ['uptime', Math.floor((now - this.startedAt) / 1000)],
      ['time', Math.floor(now / 1000)],
      ['version', version],
      ['pointer_size', 64],
      ['rusage_user', (usage.userCPUTime / 1e6).toFixed(6)],
      ['rusage_system', (usage.systemCPUTime / 1e6).toFixed(6)],
      ['curr_connections', this.currConnections],
      ['total_connections', this.totalConnections],
      ['rejected_connections', this.rejectedConnections],
      ['ssl_handshake_errors', this.sslHandshakeErrors],
      ['cmd_get', this.cmdGet],
      ['cmd_set', this.cmdSet],
      ['cmd_flush', this.cmdFlush],
      ['cmd_touch', this.cmdTouch],
      ['cmd_meta', this.cmdMeta],
      ['get_hits', this.getHits],
      ['get_misses', this.getMisses],
      ['delete_misses', this.deleteMisses],
      ['delete_hits', this.deleteHits],
      ['incr_misses', this.incrMisses],
      ['incr_hits', this.incrHits],
      ['decr_misses', this.decrMisses],
      ['decr_hits', this.decrHits],
      ['cas_misses', this.casMisses],
      ['cas_hits', this.casHits],
      ['cas_badval', this.casBadval],
      ['touch_hits', this.touchHits],
      ['touch_misses', this.touchMisses],
      ['bytes_read', this.bytesRead],
      ['bytes_written', this.bytesWritten],
      ['threads', 1],
      ['memshift_get_errors', this.getErrors],
      ['memshift_backend_errors', this.backendErrors],
      ['memshift_binary_rejected', this.binaryRejected],
      ['memshift_client_pauses', this.clientPauses],
      ['memshift_reply_memory', this.replyMemory.used],
      ...extra,
    ];
    return fields.map(([k, v]) => `STAT ${k} ${v}\r\n`).join('') + 'END\r\n';
  }
}
