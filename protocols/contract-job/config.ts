// The JobManager's fixed parameters (contracts/package/IJobManager.sol `Config`), as TypeScript and as written
// in a network file.
export interface JobManagerConfig {
  minTimeout: number
  maxTimeout: number
  minCallbackGas: number
  maxCallbackGas: number
  /** seconds after delivery during which the client may dispute */
  disputeWindow: number
  /** seconds the drawn mediator has for a job dispute */
  mediationWindow: number
  /** LP wei a bridge locks per delivered job on top of the payment */
  jobBond: bigint
  /** LP wei a client pays to dispute */
  disputeFee: bigint
}

export type JobManagerConfigJson = Omit<JobManagerConfig, 'jobBond' | 'disputeFee'> & { jobBond: string, disputeFee: string }

export function jobManagerConfigToJson (c: JobManagerConfig): JobManagerConfigJson {
  return { ...c, jobBond: c.jobBond.toString(), disputeFee: c.disputeFee.toString() }
}

export function jobManagerConfigFromJson (c: JobManagerConfigJson): JobManagerConfig {
  return { ...c, jobBond: BigInt(c.jobBond), disputeFee: BigInt(c.disputeFee) }
}

/** JobManager.JobStatus, by value. */
export const JobStatus = {
  None: 0, Open: 1, PickedUp: 2, Delivered: 3, Disputed: 4, Completed: 5, Failed: 6, Expired: 7, Cancelled: 8, Overturned: 9
} as const
export type JobStatusName = keyof typeof JobStatus

export function jobStatusName (v: number | bigint): JobStatusName {
  const found = (Object.keys(JobStatus) as JobStatusName[]).find(k => JobStatus[k] === Number(v))
  if (found === undefined) throw new RangeError(`unknown job status ${v}`)
  return found
}
