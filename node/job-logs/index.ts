export { LiveLogs, followLogs, LogStreamError, type LogChunk, type FollowLogsOptions } from './job-logs.ts'
export { defaultLogLimits, type LogLimits } from './constants.ts'
