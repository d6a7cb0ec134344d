export { JobService, JOB_STATES, defaultJobServiceInit, type JobState, type JobSubmission, type JobEvent, type JobRecord, type JobResult, type JobError, type CancelAnswer, type JobServiceInit, type JobCreators } from './job-service.ts'
export * from './errors.ts'
export * from './remote-signer.ts'
