export {
  ResultStore, RESULT_IMPORT_OPTIONS, DEFAULT_DATA_DIR, DOWNLOADS_DIR, FetchTimeoutError, ResultVerificationError,
  NotADirectoryResultError, StoreAbortedError, PeerUnreachableError
} from './store.ts'
export type { ResultStoreOptions, AddDirectoryOptions, StoredResult, RetentionPolicy, FetchOptions } from './store.ts'
export { InsufficientDiskError, DiskFullError, freeBytes, reserveDisk, isDiskFull } from './disk.ts'
export type { Reservation } from './disk.ts'
