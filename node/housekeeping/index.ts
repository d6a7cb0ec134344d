export { Housekeeping, DEFAULT_STATUS_INTERVAL_MS, DEFAULT_SWEEP_INTERVAL_MS, DEFAULT_DEAL_RETENTION_MS, type HousekeepingInit, type HousekeepingParts, type NodeStatus } from './housekeeping.ts'
