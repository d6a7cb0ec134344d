// Staging a job's inputs on the provider before its container starts: every input checked first (count,
// mount paths, sources), then fetched into <dir>/<position> — URLs and IPFS CIDs, a bounded number at once
// across the provider — within the job's deadline and its disk share, and handed to the executor as
// read-only mounts. A failure removes everything staged so far; release() removes the rest after the run.
import { mkdir, rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { systemClock, type Clock } from '../../core/clock.ts'
import type { JobSpec } from '../modules/spec.ts'
import { AddressPolicy } from './address.ts'
import { DiskFullError, InsufficientDiskError, isDiskFull, reserveDisk, type Reservation } from '../result-store/disk.ts'
import { InputError, InputTimeoutError, InputTooLargeError, InputsAbortedError } from './errors.ts'
import { FetchSlots } from './fetch-slots.ts'
import { fetchUrl } from './http.ts'
import { fetchIpfs, type BlockSource } from './ipfs.ts'
import { hasIpfsInput, planInputs, type PlannedInput } from './plan.ts'
import { inputPolicy, type InputPolicy } from './policy.ts'

/** A host path the executor binds read-only at a container path. */
export interface InputMount { source: string, target: string }

export interface StagedInput { index: number, target: string, kind: 'file' | 'directory', bytes: number, from: string }

export interface StagedInputs {
  mounts: InputMount[]
  inputs: StagedInput[]
  /** Bytes written, all inputs together. */
  bytes: number
  /** Removes the staged files (after the run). Safe to call twice. */
  release: () => Promise<void>
}

export interface StageOptions {
  /** The job's abort: fetching stops and what was staged is removed. */
  signal?: AbortSignal
  /** When the job's time is up, in ms on `clock`: fetching never runs past it (it comes out of the job's time). */
  deadline: number
  /** This job's staging directory (created; removed on failure and by release()). */
  dir: string
  policy?: Partial<InputPolicy>
  /** Blocks for IPFS inputs (the node's Helia store); a job with an IPFS input needs it. */
  blocks?: BlockSource
  /** Fetches at once on the whole provider: share one FetchSlots between all jobs (default: this call's own). */
  slots?: FetchSlots
  clock?: Pick<Clock, 'now' | 'setTimeout'>
}

/** Disk reserved in steps as bytes arrive, so a small input on a small disk is not refused for the cap's sake. */
const RESERVE_STEP = 16 * 1024 * 1024

class DiskBudget {
  private readonly byInput = new Map<number, number>()
  private reservations: Reservation[] = []
  private reserved = 0
  private readonly dir: string
  private readonly cap: number
  private readonly keepFree: number
  constructor (dir: string, cap: number, keepFree: number) { this.dir = dir; this.cap = cap; this.keepFree = keepFree }

  get total (): number { let t = 0; for (const b of this.byInput.values()) t += b; return t }

  /** Input `index` will have `bytes` (taking `factor` times that on disk); throws when over the cap or the disk. */
  async grow (index: number, bytes: number, factor: number): Promise<void> {
    this.byInput.set(index, Math.max(this.byInput.get(index) ?? 0, bytes))
    const total = this.total
    if (total > this.cap) throw new InputTooLargeError(undefined, 'all inputs together', this.cap)
    const need = total * factor
    if (need <= this.reserved) return
    const step = Math.max(need - this.reserved, Math.min(RESERVE_STEP, this.cap * factor - this.reserved))
    this.reservations.push(await reserveDisk(this.dir, step, { keepFree: this.keepFree, what: 'the job\'s inputs' }))
    this.reserved += step
  }

  release (): void { for (const r of this.reservations) r.release(); this.reservations = []; this.reserved = 0 }
}

const noInputs: StagedInputs = { mounts: [], inputs: [], bytes: 0, release: async () => {} }

/**
 * Fetches the spec's inputs into opts.dir and returns the mounts to bind read-only. Throws an InputError (the
 * job's inputs are at fault: `jobFault`), InputsAbortedError (the job was aborted), InsufficientDiskError or
 * DiskFullError (the provider's disk), leaving nothing behind.
 */
export async function stageInputs (spec: Pick<JobSpec, 'inputSources' | 'outputs' | 'resources'>, opts: StageOptions): Promise<StagedInputs> {
  const policy = inputPolicy(opts.policy)
  const plan = planInputs(spec, policy)
  if (plan.length === 0) return noInputs
  const clock = opts.clock ?? systemClock
  const dir = resolve(opts.dir)
  const diskShare = spec.resources.diskMb > 0 ? spec.resources.diskMb * 1e6 : Infinity
  const cap = Math.min(policy.maxTotalBytes, diskShare)
  const perInput = Math.min(policy.maxInputBytes, cap)
  if (plan.some(p => p.kind === 'ipfs') && opts.blocks === undefined) throw new TypeError('stageInputs: an IPFS input needs opts.blocks')

  // Time: the job's deadline, or the provider's limit on fetching, whichever comes first.
  const left = opts.deadline - clock.now()
  const limitMs = Math.min(left, policy.fetchTimeoutMs)
  const why = limitMs === left ? 'the job\'s deadline' : `this provider's limit of ${policy.fetchTimeoutMs} ms`
  if (limitMs <= 0) throw new InputTimeoutError(undefined, 'no time left before the job\'s deadline')
  const timeUp = new AbortController()
  const timer = clock.setTimeout(() => { timeUp.abort(new InputTimeoutError(undefined, why)) }, limitMs)
  const failed = new AbortController()
  const signal = AbortSignal.any([timeUp.signal, failed.signal, ...(opts.signal !== undefined ? [opts.signal] : [])])

  const slots = opts.slots ?? new FetchSlots(policy.maxConcurrentFetches)
  const addresses = new AddressPolicy(policy.allowAddresses)
  const budget = new DiskBudget(dir, cap, policy.keepFreeBytes)
  const staged: StagedInput[] = []
  const unfinished = new Set(plan.map(p => p.ref.index))
  let first: unknown

  const fetchOne = async (p: PlannedInput): Promise<void> => {
    const give = await slots.acquire(signal)
    try {
      const dest = join(dir, String(p.ref.index))
      if (p.kind === 'url') {
        await mkdir(dest)
        const got = await fetchUrl(p, {
          dest: join(dest, p.fileName), maxBytes: perInput, maxRedirects: policy.maxRedirects, idleTimeoutMs: policy.idleTimeoutMs,
          addresses, trustedCa: policy.trustedCa, signal, grow: async n => { await budget.grow(p.ref.index, n, 1) }
        })
        staged.push({ index: p.ref.index, target: p.ref.path, kind: 'directory', bytes: got.bytes, from: p.ref.from })
      } else {
        const got = await fetchIpfs(p, {
          dest, blocks: opts.blocks as BlockSource, maxBytes: perInput, maxBlocks: policy.maxBlocks, maxEntries: policy.maxEntries,
          maxDepth: policy.maxDepth, signal,
          // the blocks land in the node's block store as well until they are dropped again
          grow: async n => { await budget.grow(p.ref.index, n, 2) }
        })
        staged.push({ index: p.ref.index, target: p.ref.path, kind: got.kind, bytes: got.bytes, from: p.ref.from })
      }
      unfinished.delete(p.ref.index)
    } catch (e) {
      first ??= e
      failed.abort(e)
      throw e
    } finally {
      give()
    }
  }

  try {
    // what an earlier attempt left (a process killed while staging): staged anew, never trusted
    await rm(dir, { recursive: true, force: true })
    await mkdir(dir, { recursive: true })
    const outcomes = await Promise.allSettled(plan.map(fetchOne))
    if (outcomes.some(o => o.status === 'rejected')) throw first ?? (outcomes.find(o => o.status === 'rejected') as PromiseRejectedResult).reason
  } catch (e) {
    await rm(dir, { recursive: true, force: true })
    throw stagingError(e, { job: opts.signal, timeUp: timeUp.signal, dir, firstUnfinished: plan.find(p => unfinished.has(p.ref.index)), why })
  } finally {
    timer.cancel()
    budget.release()
  }
  staged.sort((a, b) => a.index - b.index)
  for (const p of plan) if (p.kind === 'ipfs') opts.blocks?.keep?.(p.cid, staged.find(s => s.index === p.ref.index)?.bytes ?? 0)
  return {
    mounts: staged.map(s => ({ source: join(dir, String(s.index)), target: s.target })),
    inputs: staged,
    bytes: staged.reduce((n, s) => n + s.bytes, 0),
    release: async () => { await rm(dir, { recursive: true, force: true }) }
  }
}

function stagingError (e: unknown, ctx: { job?: AbortSignal, timeUp: AbortSignal, dir: string, firstUnfinished?: PlannedInput, why: string }): unknown {
  if (ctx.job?.aborted === true) return new InputsAbortedError(ctx.job.reason)
  // when time ran out, whatever the fetches threw on the way out is a consequence: name the input left waiting
  if (ctx.timeUp.aborted && (e === ctx.timeUp.reason || !(e instanceof InputError))) return new InputTimeoutError(ctx.firstUnfinished?.ref, ctx.why, e)
  if (e instanceof InputError || e instanceof InsufficientDiskError || e instanceof DiskFullError) return e
  if (isDiskFull(e)) return new DiskFullError(ctx.dir, 'writing the job\'s inputs', e)
  return e
}

/** A node's block reader (ResultStore.readBlocks): local blocks, else bitswap from its peers (`from` dialled first). */
export interface BlockReader {
  readBlocks: <T>(fn: (blocks: BlockSource) => Promise<T>, opts: { from?: string, signal?: AbortSignal }) => Promise<T>
}

/**
 * stageInputs for a job on a node: a job without inputs stages nothing and touches nothing; only a job with an
 * IPFS input goes through the node's block reader (which dials `from`, the job creator's peer, first).
 */
export async function stageJobInputs (spec: Pick<JobSpec, 'inputSources' | 'outputs' | 'resources'>, opts: Omit<StageOptions, 'blocks'>, store: BlockReader, from?: string): Promise<StagedInputs> {
  if (spec.inputSources.length === 0) return noInputs
  if (!hasIpfsInput(spec)) return await stageInputs(spec, opts)
  return await store.readBlocks(async blocks => await stageInputs(spec, { ...opts, blocks }), { ...(opts.signal !== undefined ? { signal: opts.signal } : {}), ...(from !== undefined ? { from } : {}) })
}
