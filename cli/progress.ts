// Renders a job's progress through its phases for people (one line per phase, with elapsed time) and
// collects the same facts for `--json`, which prints one object at the end instead. The job creator reports
// typed progress events (Helia style: `onProgress`); `handle` turns each into a line or a record.
import type { JobProgressEvents } from '../node/roles/job-creator.ts'
import { describeResultStatus, type ResultStatus } from '../node/executor/status.ts'
export const PHASES = ['offered', 'matched', 'agreed', 'running', 'result', 'downloaded', 'settled'] as const
export type Phase = typeof PHASES[number]

const LABEL: Record<Phase, string> = {
  offered: 'offer sent',
  matched: 'matched',
  agreed: 'agreed on chain',
  running: 'running',
  result: 'result',
  downloaded: 'downloaded',
  settled: 'settled'
}

export interface TxRecord { what: string, hash: string, gasUsed: string }

export interface Writer { write: (s: string) => unknown }

export class Progress {
  readonly json: boolean
  private readonly out: Writer
  private readonly now: () => number
  private readonly started: number
  private last: number
  /** Milliseconds spent reaching each phase from the previous one. */
  readonly phasesMs: Partial<Record<Phase, number>> = {}
  readonly txs: TxRecord[] = []
  /** live output not yet ended by a newline, per stream */
  private readonly partial = { stdout: '', stderr: '' }

  constructor (opts: { json?: boolean, out?: Writer, now?: () => number } = {}) {
    this.json = opts.json ?? false
    this.out = opts.out ?? process.stderr
    this.now = opts.now ?? (() => performance.now())
    this.started = this.now()
    this.last = this.started
  }

  phase (phase: Phase, detail?: string): void {
    this.flushLog()
    const t = this.now()
    this.phasesMs[phase] = Math.round(t - this.last)
    this.last = t
    if (!this.json) {
      const elapsed = ((t - this.started) / 1000).toFixed(2).padStart(6)
      this.out.write(`${elapsed}s  ✔ ${LABEL[phase].padEnd(16)}${detail ?? ''}\n`)
    }
  }

  tx (what: string, hash: string, gasUsed: bigint | number | string): void {
    this.txs.push({ what, hash, gasUsed: gasUsed.toString() })
  }

  /** Human-only notes (retries, fallbacks); silent in JSON mode, which reports only the outcome. */
  note (message: string): void {
    if (!this.json) this.out.write(`         · ${message}\n`)
  }

  /**
   * The container's live output (human mode only, on stderr like the phases): whole lines, each marked with its
   * stream. It is what the provider says while the job runs; the result printed at the end is the verified one.
   */
  log (stream: 'stdout' | 'stderr', data: string): void {
    if (this.json) return
    const text = this.partial[stream] + data
    const cut = text.lastIndexOf('\n')
    this.partial[stream] = cut === -1 ? text : text.slice(cut + 1)
    // a provider that never sends a newline still shows up, in pieces of bounded length
    if (this.partial[stream].length > 4096) { this.writeLines(stream, this.partial[stream]); this.partial[stream] = '' }
    if (cut !== -1) this.writeLines(stream, text.slice(0, cut))
  }

  private writeLines (stream: 'stdout' | 'stderr', text: string): void {
    const mark = stream === 'stdout' ? '│' : '!'
    // control characters other than tab are shown escaped: the output comes from someone else's container
    for (const line of text.split('\n')) this.out.write(`         ${mark} ${line.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, c => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}\n`)
  }

  private flushLog (): void {
    for (const s of ['stdout', 'stderr'] as const) {
      if (this.partial[s] !== '') { this.writeLines(s, this.partial[s]); this.partial[s] = '' }
    }
  }

  /** The job creator's `onProgress`: phases, transactions, notes and live output. */
  readonly handle = (evt: JobProgressEvents): void => {
    switch (evt.type) {
      case 'lilypad:job:phase': this.phase(evt.detail.phase, evt.detail.detail); break
      case 'lilypad:job:tx': this.tx(evt.detail.what, evt.detail.hash, evt.detail.gasUsed); break
      case 'lilypad:job:note': this.note(evt.detail.message); break
      case 'lilypad:job:log': this.log(evt.detail.stream, evt.detail.data); break
    }
  }

  totalMs (): number {
    return Math.round(this.now() - this.started)
  }
}

/**
 * What a person must know about how the job ended, from the result's status file: one "error:" line per cause
 * when it did not end on its own (timeout, out of memory, output cap, killed), "note:" lines for truncated
 * streams; nothing for an ordinary run. `problem` is a status file that could not be read.
 */
export function resultStatusLines (status: ResultStatus | undefined, problem?: string): string[] {
  if (problem !== undefined) return [`warning: the result's status file is unusable (${problem})`]
  if (status === undefined) return []
  const facts = describeResultStatus(status)
  const causeLines = status.status === 'ok' ? 0 : 1
  return facts.map((f, i) => `${i < causeLines ? 'error' : 'note'}: ${f}`)
}
