// Signature recovery without stalling the event loop. Each gossiped or synced message costs an EIP-712 hash and a
// secp256k1 recovery in JavaScript (milliseconds each); done in one loop, a burst of them stops every stream and
// timer of the node. Two ways out, measured in docs/benchmarks.md:
//   - `InlineVerifier`: on this thread, in slices of a few milliseconds that yield to the event loop between them;
//   - `WorkerVerifier`: a pool of worker threads (another core does the work; this thread only copies bytes).
// Both answer `recover(env, bytes)` with the id and signers; the caller then runs the cheap checks (expiry, replay)
// on its own thread. One verifier is shared by every service of the process (`sharedVerifier`).
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { recoverEnvelope, type Recovered } from '../../protocols/validation.ts'
import { installNativeRecover } from '../crypto/native-recover.ts'
import type { Envelope } from '../../protocols/codec.ts'
import type { LilypadDomain } from '../../protocols/eip712.ts'

// every recovery of this process (the inline verifier's, negotiation's, the chain client's checks) uses
// libsecp256k1 where its binding loads; the workers install it for themselves (worker.ts)
installNativeRecover()

export interface SignatureVerifier {
  readonly kind: 'inline' | 'workers'
  /** id and signers of `env` (its encoded bytes travel to a worker; inline verifiers use `env`) */
  recover: (env: Envelope, bytes: Uint8Array, domain: LilypadDomain, withBinding: boolean) => Promise<Recovered>
  /** messages waiting or in progress */
  readonly pending: number
  close: () => Promise<void>
}

export class VerifierClosedError extends Error {
  static override name = 'VerifierClosedError'
  override name = VerifierClosedError.name
}

interface Job { env: Envelope, domain: LilypadDomain, withBinding: boolean, resolve: (r: Recovered) => void, reject: (e: Error) => void }

/** Recovers on this thread, at most `sliceMs` at a time, then lets the event loop run (setImmediate). */
export class InlineVerifier implements SignatureVerifier {
  readonly kind = 'inline' as const
  private readonly queue: Job[] = []
  private scheduled: NodeJS.Immediate | undefined
  private readonly sliceMs: number
  private closed = false

  constructor (opts: { sliceMs?: number } = {}) {
    this.sliceMs = opts.sliceMs ?? 5
  }

  get pending (): number { return this.queue.length }

  async recover (env: Envelope, _bytes: Uint8Array, domain: LilypadDomain, withBinding: boolean): Promise<Recovered> {
    if (this.closed) throw new VerifierClosedError('the verifier is closed')
    return await new Promise((resolve, reject) => {
      this.queue.push({ env, domain, withBinding, resolve, reject })
      this.schedule()
    })
  }

  private schedule (): void {
    if (this.scheduled !== undefined) return
    this.scheduled = setImmediate(() => {
      this.scheduled = undefined
      const end = performance.now() + this.sliceMs
      while (this.queue.length > 0 && performance.now() < end) {
        const j = this.queue.shift() as Job
        try { j.resolve(recoverEnvelope(j.env, j.domain, j.withBinding)) } catch (err) { j.reject(err as Error) }
      }
      if (this.queue.length > 0) this.schedule()
    })
  }

  async close (): Promise<void> {
    this.closed = true
    if (this.scheduled !== undefined) clearImmediate(this.scheduled)
    this.scheduled = undefined
    for (const j of this.queue.splice(0)) j.reject(new VerifierClosedError('the verifier closed'))
  }
}

interface WorkerJob { resolve: (r: Recovered) => void, reject: (e: Error) => void }
interface Slot { worker: Worker, inflight: Map<number, WorkerJob>, ready: boolean }

/**
 * A pool of worker threads; each message goes to the least busy one. Idle workers do not keep the process alive.
 * A worker takes a while to load its code (a second or more on a busy machine); until one is ready, messages are
 * verified inline, so no verdict waits for a worker to start (gossipsub forgets a message a few heartbeats after
 * it arrived, and a late verdict means the message is never forwarded).
 */
export class WorkerVerifier implements SignatureVerifier {
  readonly kind = 'workers' as const
  readonly size: number
  private readonly slots: Slot[] = []
  private readonly inline = new InlineVerifier()
  private seq = 0
  private closed = false

  constructor (opts: { size?: number } = {}) {
    this.size = Math.max(1, opts.size ?? defaultPoolSize())
    for (let i = 0; i < this.size; i++) this.slots.push(this.spawn())
  }

  get pending (): number { return this.slots.reduce((n, s) => n + s.inflight.size, 0) + this.inline.pending }

  /** Resolves once every worker has loaded (benchmarks wait for it before measuring). */
  async ready (): Promise<void> {
    await Promise.all(this.slots.map(async s => {
      if (s.ready) return
      // the worker is unref'd: while someone waits for it, it holds the process open, or a process with nothing
      // else to do ends (a test "never resolved") before a worker slow to load on a busy machine says it is ready
      s.worker.ref()
      try {
        await new Promise<void>((resolve, reject) => {
          s.worker.once('message', () => { resolve() })
          s.worker.once('error', reject)
        })
      } finally {
        if (s.inflight.size === 0) s.worker.unref()
      }
    }))
  }

  private spawn (): Slot {
    const worker = new Worker(new URL('./worker.ts', import.meta.url))
    const slot: Slot = { worker, inflight: new Map(), ready: false }
    worker.on('message', (m: { seq: number, r?: Recovered, error?: string, ready?: boolean }) => {
      if (m.ready === true) { slot.ready = true; return }
      const job = slot.inflight.get(m.seq)
      if (job === undefined) return
      slot.inflight.delete(m.seq)
      if (slot.inflight.size === 0) worker.unref()
      if (m.r !== undefined) job.resolve(m.r)
      else job.reject(new Error(m.error ?? 'worker failed'))
    })
    worker.on('error', err => {
      for (const j of slot.inflight.values()) j.reject(err)
      slot.inflight.clear()
      // a crashed worker is replaced, so one poisoned message cannot take verification down
      if (!this.closed) this.slots[this.slots.indexOf(slot)] = this.spawn()
    })
    worker.unref()
    return slot
  }

  async recover (_env: Envelope, bytes: Uint8Array, domain: LilypadDomain, withBinding: boolean): Promise<Recovered> {
    if (this.closed) throw new VerifierClosedError('the verifier is closed')
    let slot: Slot | undefined
    for (const s of this.slots) if (s.ready && (slot === undefined || s.inflight.size < slot.inflight.size)) slot = s
    if (slot === undefined) return await this.inline.recover(_env, bytes, domain, withBinding)
    const seq = ++this.seq
    const s = slot
    return await new Promise((resolve, reject) => {
      s.inflight.set(seq, { resolve, reject })
      s.worker.ref()
      s.worker.postMessage({ seq, bytes, chainId: domain.chainId, verifyingContract: domain.verifyingContract, withBinding })
    })
  }

  async close (): Promise<void> {
    this.closed = true
    for (const s of this.slots) {
      for (const j of s.inflight.values()) j.reject(new VerifierClosedError('the verifier closed'))
      s.inflight.clear()
    }
    await this.inline.close()
    await Promise.all(this.slots.map(async s => await s.worker.terminate()))
  }
}

/** Workers when there is a core to spare for them, else inline. */
export function defaultPoolSize (): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1))
}

export type VerifierMode = 'inline' | 'workers'

/** `$LILYPAD_VERIFIER` (inline | workers), else workers when the machine has more than one core. */
export function defaultVerifierMode (): VerifierMode {
  const env = process.env.LILYPAD_VERIFIER
  if (env === 'inline' || env === 'workers') return env
  return availableParallelism() > 1 ? 'workers' : 'inline'
}

let shared: SignatureVerifier | undefined

/** The process's verifier, made on first use (its workers are unref'd: they never keep a process alive). */
export function sharedVerifier (): SignatureVerifier {
  shared ??= defaultVerifierMode() === 'workers' ? new WorkerVerifier() : new InlineVerifier()
  return shared
}

/** Replaces the process's verifier (benchmarks compare the two); closes the old one. */
export async function setSharedVerifier (v: SignatureVerifier): Promise<void> {
  const old = shared
  shared = v
  if (old !== undefined && old !== v) await old.close()
}
