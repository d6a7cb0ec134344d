// How many input fetches run at once on a whole provider, whatever number of jobs asks. A waiting fetch gives
// up its place when its job is aborted. The job bridge uses the same line for its jobs' turns to run.

export class FetchSlots {
  readonly size: number
  private busy = 0
  private readonly waiting: Array<{ grant: () => void }> = []
  /** The most that ever ran at once (for tests and metrics). */
  peak = 0

  constructor (size: number) {
    if (!Number.isSafeInteger(size) || size < 1) throw new RangeError('FetchSlots size must be a positive whole number')
    this.size = size
  }

  get running (): number { return this.busy }
  /** Fetches waiting for a slot. */
  get queued (): number { return this.waiting.length }

  /** Waits for a free slot; the returned function gives it back (once). */
  async acquire (signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted()
    if (this.busy < this.size) return this.take()
    return await new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort)
          resolve(this.take())
        }
      }
      const onAbort = (): void => {
        const i = this.waiting.indexOf(entry)
        if (i !== -1) this.waiting.splice(i, 1)
        reject(signal?.reason)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiting.push(entry)
    })
  }

  private take (): () => void {
    this.busy++
    this.peak = Math.max(this.peak, this.busy)
    let given = false
    return () => {
      if (given) return
      given = true
      this.busy--
      this.waiting.shift()?.grant()
    }
  }
}
