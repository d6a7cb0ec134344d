// Epochs: fixed spans of chain time from the Rewards contract's genesis. A deal belongs to the epoch in which its
// final event's block was mined; a canary report names its epoch. An epoch's inputs are frozen once its report
// window has passed (the contract records no report for it after that and takes no root before it).

export interface EpochSchedule {
  /** unix seconds: the start of epoch 0 */
  genesis: number
  /** seconds */
  epochLength: number
  /** seconds after an epoch's end during which its canary reports are recorded */
  reportWindow: number
}

export function epochAt (s: EpochSchedule, timestamp: number): number {
  return timestamp <= s.genesis ? 0 : Math.floor((timestamp - s.genesis) / s.epochLength)
}

export function epochStart (s: EpochSchedule, epoch: number): number {
  return s.genesis + epoch * s.epochLength
}

/** The first second after the epoch (exclusive end). */
export function epochEnd (s: EpochSchedule, epoch: number): number {
  return s.genesis + (epoch + 1) * s.epochLength
}

/** When the epoch's inputs are final and roots may be proposed. */
export function epochClosesAt (s: EpochSchedule, epoch: number): number {
  return epochEnd(s, epoch) + s.reportWindow
}

/** The latest epoch whose inputs are final at `now`, or -1 when none is yet. */
export function lastClosedEpoch (s: EpochSchedule, now: number): number {
  if (now < epochClosesAt(s, 0)) return -1
  return Math.floor((now - s.reportWindow - s.genesis) / s.epochLength) - 1
}
