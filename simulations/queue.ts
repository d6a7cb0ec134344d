// A binary min-heap of timed events. Ties on time are broken by insertion order, so a run is deterministic
// however many events share a timestamp. Parallel arrays avoid one object per comparison.

export class EventQueue<T> {
  private times: number[] = []
  private seqs: number[] = []
  private items: T[] = []
  private seq = 0

  get size (): number { return this.items.length }

  push (time: number, item: T): void {
    const times = this.times
    const seqs = this.seqs
    const items = this.items
    let i = items.length
    const s = this.seq++
    times.push(time); seqs.push(s); items.push(item)
    while (i > 0) {
      const p = (i - 1) >> 1
      if (times[p] < time || (times[p] === time && seqs[p] < s)) break
      times[i] = times[p]; seqs[i] = seqs[p]; items[i] = items[p]
      i = p
    }
    times[i] = time; seqs[i] = s; items[i] = item
  }

  peekTime (): number {
    return this.items.length === 0 ? Infinity : this.times[0]
  }

  /** Removes and returns the earliest item (undefined when empty). */
  pop (): T | undefined {
    const items = this.items
    const n = items.length
    if (n === 0) return undefined
    const top = items[0]
    const times = this.times
    const seqs = this.seqs
    const lastT = times.pop() as number
    const lastS = seqs.pop() as number
    const last = items.pop() as T
    if (n > 1) {
      const m = n - 1
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= m) break
        const r = l + 1
        let c = l
        if (r < m && (times[r] < times[l] || (times[r] === times[l] && seqs[r] < seqs[l]))) c = r
        if (lastT < times[c] || (lastT === times[c] && lastS < seqs[c])) break
        times[i] = times[c]; seqs[i] = seqs[c]; items[i] = items[c]
        i = c
      }
      times[i] = lastT; seqs[i] = lastS; items[i] = last
    }
    return top
  }
}
