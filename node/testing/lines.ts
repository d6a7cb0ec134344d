// Collects a child process's output lines and lets a test wait for one that matches, event-driven.
import type { Readable } from 'node:stream'
import { createInterface } from 'node:readline'

export class LineLog {
  readonly lines: string[] = []
  private readonly waiters = new Set<() => void>()

  constructor (...streams: Array<Readable | null | undefined>) {
    for (const s of streams) {
      if (s == null) continue
      createInterface({ input: s }).on('line', line => {
        this.lines.push(line)
        for (const w of this.waiters) w()
      })
    }
  }

  /** Resolves with the first line from index `from` on that matches; rejects after `timeoutMs`. */
  async waitFor (re: RegExp, timeoutMs: number, from = 0): Promise<string> {
    const find = (): string | undefined => this.lines.slice(from).find(l => re.test(l))
    const found = find()
    if (found !== undefined) return found
    return await new Promise((resolve, reject) => {
      const check = (): void => {
        const line = find()
        if (line === undefined) return
        clearTimeout(timer)
        this.waiters.delete(check)
        resolve(line)
      }
      const timer = setTimeout(() => {
        this.waiters.delete(check)
        reject(new Error(`no line matching ${re} within ${timeoutMs} ms; last lines:\n${this.lines.slice(-15).join('\n')}`))
      }, timeoutMs)
      this.waiters.add(check)
    })
  }

  tail (n = 20): string { return this.lines.slice(-n).join('\n') }
}
