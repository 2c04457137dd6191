/**
 * The copy engine shared by replica sync and migration: scan a source with metadump, copy each key
 * without resurrecting data, verify and repair, paced and measured. `replication/` drives it to
 * rebuild a group (docs/replication.md, "Rebuilding a group"), `migration/` across moved arcs
 * (docs/migration.md, the copy and verify phases); neither reimplements scanning, copying or verifying.
 * Drivers call `syncServers`; the pieces are exported for tests, tools and drivers that need a
 * single step.
 */
export { syncServers, type SyncOptions, type SyncReport, type SourceReport } from './sync.js';
export { scanServer, parseMetadumpLine, decodeDumpKey, type DumpEntry, type DumpMode, type Scan, type ScanOptions, type ScanStats } from './scanner.js';
export { copyKey, syncKey, type CopyKeyOptions, type CopyOutcome, type CopyResult, type MetaOps, type SyncOutcome } from './copier.js';
export {
  verifyKey,
  sweepOrphan,
  runVerify,
  itemState,
  sameItem,
  type ItemState,
  type VerifyKeyOptions,
  type VerifyOutcome,
  type VerifyPassReport,
  type VerifyReport,
  type VerifyRunOptions,
} from './verifier.js';
export { TokenBucket, RateLimiter, EvictionWatch, evictionsGrew, nextFactor, systemClock, type Clock, type EvictionPolicy, type RateLimiterOptions } from './rate-limiter.js';
export { Progress, etaSeconds, span, type CountName, type Phase, type ProgressCounts, type ProgressSnapshot } from './progress.js';
export { storeTtl, ttlMatches, MAX_RELATIVE_TTL } from './ttl.js';
export { MetaClient, endpointId, keyToken, metaRequest, flagValue, flagNumber, MAX_KEY_BYTES, MAX_BASE64_KEY_BYTES, type Endpoint, type MetaClientOptions, type MetaReply } from './meta-client.js';
export { Engine, showKey, type EngineOptions, type KeyFilter, type TargetSpec } from './engine.js';
export { CopyError, isCopyError, COPY_ERROR_CODES, type CopyErrorCode } from './copy-error.js';
export { BackendMeta } from './backend-meta.js';
export { RECONCILE_BATCH } from './probe.js';
