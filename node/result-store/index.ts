export {
  ResultStore, RESULT_IMPORT_OPTIONS, DEFAULT_DATA_DIR, DOWNLOADS_DIR, FetchTimeoutError, ResultVerificationError,
  NotADirectoryResultError, StoreAbortedError, PeerUnreachableError, DEFAULT_INPUT_HOLD_MS, ResultTooLargeError,
  DEFAULT_FETCH_MAX_BYTES
} from './result-store.ts'
export type { ResultStoreOptions, AddDirectoryOptions, StoredResult, HeldInput, InputBlocks, RetentionPolicy, PruneOptions, FetchOptions } from './result-store.ts'
export { ResultRetention, OpenResults, DEFAULT_RETENTION } from './retention.ts'
export { serveGateway, GatewayPortError, type GatewayOptions } from './gateway.ts'
export type { RetentionOptions, ResultRetentionEvents } from './retention.ts'
export { InsufficientDiskError, DiskFullError, freeBytes, reserveDisk, isDiskFull } from './disk.ts'
export type { Reservation } from './disk.ts'
