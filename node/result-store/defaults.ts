// The result store's places, importable without loading Helia (the CLI's fast path needs only the names).
export const DEFAULT_DATA_DIR = '/tmp/lilypad/data'
export const DOWNLOADS_DIR = 'downloaded-files'
/** A deal id as the Market names it: 0x and 64 hex digits. */
export const DEAL_ID = /^0x[0-9a-fA-F]{64}$/
