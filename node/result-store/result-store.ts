// The result store: a private Helia node built from light parts (no public bootstrap, DHT or delegated
// routing), file-system blocks and datastore under <dataDir>/helia, bitswap for transfer between nodes.
// Result directories are added as deterministic UnixFS directories (CIDv1, raw leaves, the IPIP-499
// unixfs-v1-2025 profile, sorted entries, no mode or mtime), so the same bytes always give the same CID.
import { createReadStream, existsSync } from 'node:fs'
import { mkdir, readdir, readFile, rename, rm, rmdir, stat, writeFile, open } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import { DiskFullError, FS_BLOCK, isDiskFull, onDisk, reserveDisk } from './disk.ts'
import { CarReader } from '@ipld/car'
import { car } from '@helia/car'
import { withBitswap } from '@helia/bitswap'
import { unixfs } from '@helia/unixfs'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { FsBlockstore } from 'blockstore-fs'
import { FsDatastore } from 'datastore-fs'
import { createHeliaLight, type Helia } from 'helia'
import { createLibp2p, type Libp2pOptions } from 'libp2p'
import { CID } from 'multiformats/cid'
import { exporter, type ExporterOptions, type ReadableStorage } from 'ipfs-unixfs-exporter'

import { DEFAULT_DATA_DIR, DOWNLOADS_DIR } from './defaults.ts'
import { DEFAULT_RESOURCES } from '../modules/spec.ts'
import { resultBytesBound } from '../../core/policy/result-size.ts'

export { DEFAULT_DATA_DIR, DOWNLOADS_DIR } from './defaults.ts'

/** Import settings every Lilypad node uses, so a result's CID depends only on its bytes and names. */
export const RESULT_IMPORT_OPTIONS = {
  cidVersion: 1 as const,
  rawLeaves: true,
  profile: 'unixfs-v1-2025' as const,
  wrapWithDirectory: true
}

export class FetchTimeoutError extends Error {
  static override name = 'FetchTimeoutError'
  override name = 'FetchTimeoutError'
  readonly cid: string
  constructor (cid: string, timeoutMs: number, cause?: unknown) {
    super(`fetching ${cid} did not finish within ${timeoutMs} ms`, { cause })
    this.cid = cid
  }
}

/** A result DAG that grew past the bound of what the job could have produced (core/policy/result-size.ts). */
export class ResultTooLargeError extends Error {
  static override name = 'ResultTooLargeError'
  override name = 'ResultTooLargeError'
  readonly hint: string
  readonly maxBytes: number
  constructor (cid: string, maxBytes: number) {
    super(`${cid} is bigger than ${maxBytes} bytes: the fetch stopped there and kept nothing`)
    this.maxBytes = maxBytes
    this.hint = 'a job\'s result cannot be bigger than the disk it asked for plus 64 MiB; for `lilypad get`, --max-mb raises the bound'
  }
}

export class ResultVerificationError extends Error {
  static override name = 'ResultVerificationError'
  override name = 'ResultVerificationError'
}

export class NotADirectoryResultError extends Error {
  static override name = 'NotADirectoryResultError'
  override name = 'NotADirectoryResultError'
}

export class PeerUnreachableError extends Error {
  static override name = 'PeerUnreachableError'
  override name = 'PeerUnreachableError'
}

export class StoreAbortedError extends Error {
  static override name = 'StoreAbortedError'
  override name = 'StoreAbortedError'
}

export interface ResultStoreOptions {
  /** Root of the node's data (default /tmp/lilypad/data). */
  dataDir?: string
  /** Use an existing libp2p host (the node's main one); the store then neither starts nor stops it. */
  libp2p?: Libp2p
  /** Options for the store's own libp2p host; default TCP on 127.0.0.1 with noise, yamux and identify. */
  libp2pOptions?: Libp2pOptions
  /** Listen addresses for the store's own host (default /ip4/127.0.0.1/tcp/0). */
  listen?: string[]
  /** Free space that must remain on the blocks' file system after an add (default 0). */
  minFreeBytes?: number
  /** How long a block sent to a peer is not sent again on its repeated want (default bitswap's 5 s). */
  doNotResendBlockWindowMs?: number
  /** How often peers' spent and stale wants are dropped (default 30 s; see sweepWants). */
  wantSweepMs?: number
  /** Told when a periodic want sweep fails (it reads @helia/bitswap's internals; a new version may change them). */
  onSweepError?: (err: Error) => void
  /** A peer's want for a block this store does not have is dropped after this long (default 60 s). */
  staleWantMs?: number
}

/** The parts of @helia/bitswap (4.0.x) that the want sweep uses; its server-side ledgers are not public API. */
interface BitswapBroker {
  name: string
  bitswap?: {
    peerWantLists?: { peers: () => PeerId[], ledgerMap?: { values: () => Iterable<{ wants?: Map<string, { status?: string, created?: number }> }> } }
    getPeerWantlist: (peer: PeerId) => unknown[] | undefined
  }
}

/** 'result': a provider's own result; 'fetched': a download; 'input': a job creator's input file, held while its job runs. */
/** Blocks for a provider's input staging: verified reads, and keep() for a DAG staged whole. */
export interface InputBlocks {
  get: (cid: CID, options: { signal: AbortSignal }) => Promise<Uint8Array>
  keep: (root: CID, bytes: number) => void
}

/** A job creator's input held in the store while its job runs. */
export interface HeldInput { cid: CID, bytes: number, release: () => Promise<void> }

/** How long an input stays pinned when its holder dies without releasing it. */
export const DEFAULT_INPUT_HOLD_MS = 24 * 3600_000

/**
 * 'result': a provider's own result; 'fetched': a download; 'input': a job creator's input, held while its job
 * runs; 'cached-input': an input a provider fetched for a job, kept for the next job that names it.
 */
export interface StoredResult { cid: CID, bytes: number, addedAt: number, kind: 'result' | 'fetched' | 'input' | 'cached-input', heldUntil?: number }

/**
 * What a provider keeps of the results it made (kind 'result') and the inputs it cached ('cached-input').
 * Results a job creator downloaded ('fetched') and inputs it holds ('input') are never pruned: they stay
 * pinned until unpin() or release().
 */
export interface RetentionPolicy {
  /** Results older than this are removed. */
  maxAgeMs?: number
  /** Oldest results are removed until the total is at most this. */
  maxTotalBytes?: number
  /** The clock (default Date.now()). */
  now?: number
}

export interface PruneOptions {
  signal?: AbortSignal
  /** Results that must stay whatever their age (a deal still open: its job creator or a mediator may fetch it). */
  keep?: (cid: string) => boolean
}

export interface AddDirectoryOptions {
  signal?: AbortSignal
  /** Helia's importer progress events (a block written: 'unixfs:importer:progress:file:write'). */
  onProgress?: (evt: { type: string, detail: unknown }) => void
  /** Pin for the retention policy (default true). */
  pin?: boolean
  /** When the result was made (default now); retention ages results from this. */
  addedAt?: number
  kind?: StoredResult['kind']
}

export interface FetchOptions {
  /** Peer(s) to fetch from: a multiaddr ending in /p2p/<peer id>, or a peer id the host has addresses for. */
  from?: string | Multiaddr | PeerId | Array<string | Multiaddr | PeerId>
  signal?: AbortSignal
  /** Default 30 s. */
  timeoutMs?: number
  /** Stop (ResultTooLargeError) once the blocks read pass this many bytes; default DEFAULT_FETCH_MAX_BYTES. */
  maxBytes?: number
}

/** The bound of a fetch that names none: what a job with the default disk (1,024 MB) may produce. */
export const DEFAULT_FETCH_MAX_BYTES = resultBytesBound(DEFAULT_RESOURCES.diskMb)

// Helia's GC lock is a mortice lock under the default name, which mortice keeps process-wide: every Helia
// node in this process shares it. A gc() waiting for the write lock stops new reads, so a fetch holding a
// read lock while bitswap waits to put the block it asked for would deadlock until its timeout. This gate,
// process-wide for the same reason, lets retention's gc start only when no add, fetch or CAR operation of
// any store is in flight.
let inFlight = 0
let exclusive: Promise<void> | undefined
let drained: Array<() => void> = []

async function shared<T> (fn: () => Promise<T>): Promise<T> {
  while (exclusive !== undefined) await exclusive
  inFlight++
  try {
    return await fn()
  } finally {
    inFlight--
    if (inFlight === 0) { const d = drained; drained = []; for (const r of d) r() }
  }
}

async function exclusively<T> (fn: () => Promise<T>): Promise<T> {
  while (exclusive !== undefined) await exclusive
  let release!: () => void
  exclusive = new Promise<void>(resolve => { release = resolve })
  try {
    if (inFlight > 0) await new Promise<void>(resolve => drained.push(resolve))
    return await fn()
  } finally {
    exclusive = undefined
    release()
  }
}

async function loadOrCreateKey (path: string): Promise<PrivateKey> {
  if (existsSync(path)) return privateKeyFromProtobuf(await readFile(path))
  const key = await generateKeyPair('Ed25519')
  await writeFile(path, privateKeyToProtobuf(key), { mode: 0o600 })
  return key
}

/** Files and directories under dir, sorted bytewise by path, as importer candidates with relative paths. */
async function * directorySource (dir: string, prefix = ''): AsyncGenerator<{ path: string, content?: AsyncIterable<Uint8Array> }> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)))
  for (const e of entries) {
    const rel = prefix === '' ? e.name : `${prefix}/${e.name}`
    const full = join(dir, e.name)
    if (e.isDirectory()) {
      yield { path: rel }
      yield * directorySource(full, rel)
    } else if (e.isFile()) {
      yield { path: rel, content: createReadStream(full) }
    }
    // Symlinks and special files are not part of a result (a job must not point outside its outputs).
  }
}

/** The CID a directory would get, computed without storing anything (verification of fetched trees). */
async function hashDirectory (dir: string, signal?: AbortSignal): Promise<CID> {
  const discard = { put: async (cid: CID) => cid, get: async function * () {}, has: async () => false }
  const fs = unixfs({ blockstore: discard } as unknown as Parameters<typeof unixfs>[0])
  let root: CID | undefined
  for await (const entry of fs.addAll(directorySource(dir), { ...RESULT_IMPORT_OPTIONS, signal })) if (entry.path === '') root = entry.cid
  if (root === undefined) throw new ResultVerificationError(`${dir} is empty`)
  return root
}

/**
 * The blockstore as the exporter reads it, counting every block's bytes (fetched or already here): past `maxBytes`
 * the read fails, so a hostile provider's endless DAG costs the fetcher at most that much disk and bandwidth.
 */
function boundedReads (blockstore: ReadableStorage, key: string, maxBytes: number): ReadableStorage {
  let total = 0
  return {
    get: (cid, o) => {
      const parts = blockstore.get(cid, o)
      return (async function * () {
        for await (const part of parts) {
          total += part.byteLength
          if (total > maxBytes) throw new ResultTooLargeError(key, maxBytes)
          yield part
        }
      })()
    }
  }
}

async function treeBytes (dir: string): Promise<number> {
  let total = 0
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) total += await treeBytes(p)
    else if (e.isFile()) total += (await stat(p)).size
  }
  return total
}

/** How many entries of a result directory are fetched at once, and how many blocks they read ahead in all. */
const TREE_READS = 8
const READ_AHEAD_BLOCKS = 16

/** The unixfs-v1-2025 profile's leaf size. */
const CHUNK = 1024 * 1024

/**
 * What adding dir may take on disk at most: every leaf block rounded up to whole file-system blocks, and per
 * block a file node, a shard directory and the pin record the background pin writes.
 */
async function addFootprint (dir: string): Promise<number> {
  let total = 16 * FS_BLOCK // the root directory node and its pin
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) total += await addFootprint(p)
    else if (e.isFile()) {
      const size = (await stat(p)).size
      const leaves = Math.max(1, Math.ceil(size / CHUNK))
      total += leaves * onDisk(CHUNK) - (leaves * CHUNK - size) + (leaves + 1) * 3 * FS_BLOCK
    }
  }
  return total
}

/**
 * The blockstore as one add sees it: records the blocks it writes that were not there before, and the puts
 * still in flight (the importer writes in parallel and can still be writing after its first failure).
 */
class BlockTracker {
  readonly added: CID[] = []
  private readonly inner: Helia['blockstore']
  private readonly pending = new Set<Promise<unknown>>()
  constructor (inner: Helia['blockstore']) { this.inner = inner }

  async put (cid: CID, bytes: Uint8Array, options?: { signal?: AbortSignal }): Promise<CID> {
    const p = (async () => {
      if (!(await this.inner.has(cid, options))) this.added.push(cid)
      return await this.inner.put(cid, bytes, options)
    })()
    this.pending.add(p)
    try { return await p } finally { this.pending.delete(p) }
  }

  async has (cid: CID, options?: { signal?: AbortSignal }): Promise<boolean> { return await this.inner.has(cid, options) }
  get (cid: CID, options?: { signal?: AbortSignal }): ReturnType<Helia['blockstore']['get']> { return this.inner.get(cid, options) }

  async settled (): Promise<void> { while (this.pending.size > 0) await Promise.allSettled([...this.pending]) }
}

export class ResultStore {
  readonly helia: Helia & { libp2p: Libp2p }
  readonly dataDir: string
  readonly downloadsDir: string
  private readonly ownsLibp2p: boolean
  private readonly blocksDir: string
  private readonly minFreeBytes: number
  private readonly pending = new Set<Promise<void>>()
  /** fetches in flight by CID (see fetch) */
  private readonly fetching = new Map<string, Promise<{ cid: CID, dir: string }>>()
  /** Pins that failed in the background (kept for diagnostics; the content itself is unaffected). */
  readonly pinErrors: unknown[] = []
  /** Input files held for running jobs: how many holders each has, and whether this store pinned it for them. */
  private readonly inputHolds = new Map<string, { count: number, pinnedByUs: boolean }>()
  /** Background removals of blocks fetched for strangers' DAGs; stop() waits for them. */
  private readonly drops = new Set<Promise<void>>()
  /** Block drops that failed (the blocks stay until the next garbage collection). */
  readonly dropErrors: unknown[] = []
  private wantSweep: NodeJS.Timeout | undefined
  private staleWantMs = 60_000

  private constructor (helia: Helia & { libp2p: Libp2p }, dataDir: string, ownsLibp2p: boolean, minFreeBytes: number) {
    this.helia = helia
    this.dataDir = dataDir
    this.blocksDir = join(dataDir, 'helia', 'blocks')
    this.minFreeBytes = minFreeBytes
    this.downloadsDir = join(dataDir, DOWNLOADS_DIR)
    this.ownsLibp2p = ownsLibp2p
  }

  static async create (opts: ResultStoreOptions = {}): Promise<ResultStore> {
    const dataDir = resolve(opts.dataDir ?? DEFAULT_DATA_DIR)
    const heliaDir = join(dataDir, 'helia')
    await mkdir(join(heliaDir, 'blocks'), { recursive: true })
    await mkdir(join(heliaDir, 'datastore'), { recursive: true })
    await mkdir(join(dataDir, DOWNLOADS_DIR), { recursive: true })
    const blockstore = new FsBlockstore(join(heliaDir, 'blocks'))
    const datastore = new FsDatastore(join(heliaDir, 'datastore'))
    let libp2p = opts.libp2p
    const owns = libp2p === undefined
    if (libp2p === undefined) {
      await datastore.open()
      libp2p = await createLibp2p({
        privateKey: await loadOrCreateKey(join(heliaDir, 'peer.key')),
        addresses: { listen: opts.listen ?? ['/ip4/127.0.0.1/tcp/0'] },
        transports: [tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        connectionManager: { allow: ['/ip4/127.0.0.0/ipcidr/8'] },
        services: { identify: identify() },
        start: false,
        ...opts.libp2pOptions
      })
    }
    const host = libp2p
    const helia = createHeliaLight({ blockstore, datastore }) as Helia & { libp2p: Libp2p }
    // The libp2p mixin: Helia's own (@helia/libp2p) always creates a new host; here the host may be shared.
    Object.defineProperty(helia, 'libp2p', { value: host, enumerable: true, configurable: true })
    helia.addMixin({
      name: 'libp2p',
      start: async () => { if (owns) await host.start() },
      stop: async () => { if (owns) await host.stop() }
    })
    // A provider behind NAT may be reachable only through a relay: results then travel over the relayed
    // connection (within the relay's data limit) until DCUtR upgrades it to a direct one.
    withBitswap(helia as Parameters<typeof withBitswap>[0], { runOnLimitedConnections: true, ...(opts.doNotResendBlockWindowMs !== undefined ? { doNotResendBlockWindow: opts.doNotResendBlockWindowMs } : {}) })
    try {
      await helia.start()
    } catch (e) {
      await helia.stop().catch(() => {})
      throw e
    }
    const store = new ResultStore(helia, dataDir, owns, opts.minFreeBytes ?? 0)
    store.staleWantMs = opts.staleWantMs ?? 60_000
    const onSweepError = opts.onSweepError ?? ((err: Error) => { process.emitWarning(`result store: the want sweep failed: ${err.message}`) })
    store.wantSweep = setInterval(() => {
      try { store.sweepWants() } catch (err) { onSweepError(err as Error) }
    }, opts.wantSweepMs ?? 30_000)
    store.wantSweep.unref()
    return store
  }

  /**
   * Drops what connected peers' want lists keep for nothing, and returns how many wants they still hold.
   * @helia/bitswap (4.0.19) keeps a peer's want until the peer cancels it, and job creators do not cancel: a want
   * whose block was sent expires only when that peer's want list is read, and a want for a block this node does not
   * have (a job creator asks every connected peer for its result) stays until the list passes 1,024 entries. Over
   * one long-lived connection — the bootstrap node and each job creator, job after job — that was two wants a job
   * in the heap, up to 1,024 per peer. So: every peer's list is read (its sent wants expire), and a want for a
   * block still missing here after `staleMs` is dropped (the asker has long timed out or got it elsewhere).
   */
  sweepWants (staleMs = this.staleWantMs): number {
    const broker = (this.helia as unknown as { blockBrokers?: BitswapBroker[] }).blockBrokers?.find(b => b.name === 'bitswap')
    const bitswap = broker?.bitswap
    if (bitswap?.peerWantLists === undefined) return 0
    const before = Date.now() - staleMs
    for (const ledger of bitswap.peerWantLists.ledgerMap?.values() ?? []) {
      for (const [k, w] of ledger.wants ?? []) if (w.status === 'want' && (w.created ?? Infinity) <= before) ledger.wants?.delete(k)
    }
    let held = 0
    // reading a peer's want list is what expires its sent wants
    for (const peer of bitswap.peerWantLists.peers()) held += bitswap.getPeerWantlist(peer)?.length ?? 0
    return held
  }

  get libp2p (): Libp2p { return this.helia.libp2p }
  get peerId (): string { return this.helia.libp2p.peerId.toString() }
  /** Addresses other nodes fetch from (each ends in /p2p/<peer id>). */
  multiaddrs (): Multiaddr[] { return this.helia.libp2p.getMultiaddrs() }

  /**
   * Adds a result directory as a UnixFS directory and pins it for the retention policy. The space it may take
   * is checked and reserved first (InsufficientDiskError); if the disk fills up anyway, the blocks this add
   * wrote are deleted again and DiskFullError is thrown: a failed add leaves no partial DAG behind.
   */
  async addDirectory (dir: string, opts: AddDirectoryOptions = {}): Promise<CID> {
    const root = resolve(dir)
    if (!(await stat(root)).isDirectory()) throw new NotADirectoryResultError(`${root} is not a directory`)
    const reservation = await reserveDisk(this.blocksDir, await addFootprint(root), { keepFree: this.minFreeBytes, what: 'adding the result' })
    const written = new BlockTracker(this.helia.blockstore)
    try {
      return await shared(async () => await this.addDirectoryUnlocked(root, opts, written))
    } catch (e) {
      await this.discard(written)
      if (isDiskFull(e)) throw new DiskFullError(this.blocksDir, `adding ${root}`, e)
      throw e
    } finally {
      reservation.release()
    }
  }

  private async addDirectoryUnlocked (root: string, opts: AddDirectoryOptions, written: BlockTracker): Promise<CID> {
    let cid: CID | undefined
    const source = (async function * () {
      yield * directorySource(root)
    })()
    const fs = unixfs({ blockstore: written } as unknown as Parameters<typeof unixfs>[0])
    for await (const entry of fs.addAll(source, { ...RESULT_IMPORT_OPTIONS, signal: opts.signal, ...(opts.onProgress !== undefined ? { onProgress: opts.onProgress as never } : {}) })) {
      if (entry.path === '') cid = entry.cid
    }
    if (cid === undefined) cid = await fs.addDirectory({}, { cidVersion: 1, signal: opts.signal }) // an empty result
    if (opts.pin !== false) this.pinInBackground(cid, await treeBytes(root), opts.addedAt ?? Date.now(), opts.kind ?? 'result')
    return cid
  }

  /**
   * Deletes what a failed add wrote: its new blocks that no pin holds, and the block store's leftovers (temp
   * files of writes cut short, emptied shard directories). Runs when no other add, fetch or pin is in flight,
   * so every other add's blocks are pinned by then and nobody is writing.
   */
  private async discard (written: BlockTracker): Promise<void> {
    await written.settled()
    await exclusively(async () => {
      for (const cid of written.added) {
        if (await this.helia.pins.isPinned(cid)) continue
        try { await this.helia.blockstore.delete(cid) } catch { /* never landed */ }
      }
      let shards
      try { shards = await readdir(this.blocksDir, { withFileTypes: true }) } catch { return }
      for (const shard of shards) {
        if (!shard.isDirectory()) continue
        const d = join(this.blocksDir, shard.name)
        for (const f of await readdir(d)) if (f.startsWith('.') && f.endsWith('.tmp')) await rm(join(d, f), { force: true })
        await rmdir(d).catch(() => { /* holds blocks */ })
      }
    })
  }

  /**
   * Pinning walks the DAG and writes a datastore record per block; it is off the result's critical path.
   * Pending pins count as in-flight work, so prune() and stop() wait for them.
   */
  private pinInBackground (cid: CID, bytes: number, addedAt: number, kind: StoredResult['kind']): void {
    inFlight++
    const p = this.pin(cid, bytes, addedAt, kind)
      .catch(err => { this.pinErrors.push(err) })
      .finally(() => {
        inFlight--
        this.pending.delete(p)
        if (inFlight === 0) { const d = drained; drained = []; for (const r of d) r() }
      })
    this.pending.add(p)
  }

  /** Resolves once every pin started so far has been written. */
  async settled (): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending])
  }

  private async pin (cid: CID, bytes: number, addedAt: number, kind: StoredResult['kind'], signal?: AbortSignal, extra: Record<string, number> = {}): Promise<void> {
    const metadata = { lilypad: kind, bytes, addedAt, ...extra }
    if (await this.helia.pins.isPinned(cid, { signal })) {
      await this.helia.pins.setMetadata(cid, metadata, { signal })
      return
    }
    for await (const _ of this.helia.pins.add(cid, { metadata, signal })) { /* walk the DAG */ }
  }

  /**
   * Fetches a result directory by CID over bitswap (from the given peer), verifies it and writes it to
   * <dataDir>/downloaded-files/<CID>/. Blocks are hash-checked as they arrive; the written tree is re-added
   * and must give back the same root CID.
   */
  async fetch (cidLike: CID | string, opts: FetchOptions = {}): Promise<{ cid: CID, dir: string }> {
    // One fetch per CID at a time: @helia/bitswap marks a want cancelled once its block arrives, and a second want
    // of that CID made before the cancel is sent joins the cancelled entry and never resolves (a fetch stalled until
    // its timeout: seen when several jobs with the same result ran at once). Later callers wait for the first.
    const key = (typeof cidLike === 'string' ? CID.parse(cidLike) : cidLike).toString()
    const running = this.fetching.get(key)
    if (running !== undefined) {
      try { return await running } catch {
        // the first fetch failed (its own timeout or signal): this caller tries with its own
      }
    }
    const p = shared(async () => await this.fetchUnlocked(cidLike, opts))
    this.fetching.set(key, p)
    try {
      return await p
    } finally {
      if (this.fetching.get(key) === p) this.fetching.delete(key)
    }
  }

  private async fetchUnlocked (cidLike: CID | string, opts: FetchOptions): Promise<{ cid: CID, dir: string }> {
    const cid = typeof cidLike === 'string' ? CID.parse(cidLike) : cidLike
    const key = cid.toString()
    const timeoutMs = opts.timeoutMs ?? 30_000
    const timeout = AbortSignal.timeout(timeoutMs)
    const signal = opts.signal !== undefined ? AbortSignal.any([opts.signal, timeout]) : timeout
    const dest = join(this.downloadsDir, key)
    if (existsSync(dest)) return { cid, dir: dest }
    const tmp = `${dest}.partial-${process.pid}-${Math.random().toString(36).slice(2)}`
    // A string starting with "/" is a multiaddr; anything else is a peer id whose addresses the host knows.
    const from = opts.from === undefined ? [] : (Array.isArray(opts.from) ? opts.from : [opts.from]).map(a => typeof a !== 'string' ? a : a.startsWith('/') ? multiaddr(a) : peerIdFromString(a))
    try {
      // Connected peers receive our want list, so after dialling no per-block provider sessions are needed
      // (passing providers to every block read costs a session each).
      const reached = await Promise.allSettled(from.map(async addr => await this.helia.libp2p.dial(addr, { signal })))
      if (from.length > 0 && reached.every(r => r.status === 'rejected') && !signal.aborted) {
        const why = (reached[0] as PromiseRejectedResult).reason as Error
        throw new PeerUnreachableError(`cannot reach ${from.map(String).join(', ')}: ${why.message}`, { cause: why })
      }
      const providers = undefined
      await mkdir(tmp, { recursive: true })
      await this.writeTree(cid, tmp, signal, providers, boundedReads(this.helia.blockstore, key, opts.maxBytes ?? DEFAULT_FETCH_MAX_BYTES))
      const again = await hashDirectory(tmp, signal)
      if (!again.equals(cid)) throw new ResultVerificationError(`the tree fetched for ${key} re-adds as ${again.toString()}`)
      try {
        await rename(tmp, dest)
      } catch (err) {
        // another fetch of the same CID (same content, verified) finished first: theirs is as good as ours
        if (!['ENOTEMPTY', 'EEXIST'].includes((err as { code?: string }).code ?? '') || !existsSync(dest)) throw err
        await rm(tmp, { recursive: true, force: true })
        return { cid, dir: dest }
      }
      this.pinInBackground(cid, await treeBytes(dest), Date.now(), 'fetched')
      return { cid, dir: dest }
    } catch (e) {
      await rm(tmp, { recursive: true, force: true })
      if (isDiskFull(e)) throw new DiskFullError(this.downloadsDir, `fetching ${key}`, e)
      if (timeout.aborted) throw new FetchTimeoutError(key, timeoutMs, e)
      if (opts.signal?.aborted === true) throw new StoreAbortedError(`fetching ${key} was aborted`, { cause: e })
      throw e
    }
  }

  /**
   * Writes the UnixFS directory at cid into dir, reading each node's type from its own block. Each entry's first
   * block is a round trip to the provider, so entries are read TREE_READS at a time (one after the other, a cowsay
   * result's handful of small files took ~100 ms of its ~0.8 s job); a batch's subdirectories are walked after the
   * batch, so no more than TREE_READS entries are ever in flight however deep the tree, and a failure is thrown
   * only once its whole batch has settled (nothing writes into the directory after the caller removes it).
   */
  private async writeTree (cid: CID, dir: string, signal: AbortSignal, providers: Multiaddr[] | undefined, blocks: ReadableStorage): Promise<void> {
    const opts = { signal, providers } as ExporterOptions
    const node = await exporter(cid, blocks, opts)
    if (node.type !== 'directory') throw new NotADirectoryResultError(`${cid.toString()} is a ${node.type}, not a result directory`)
    let batch: Array<{ cid: CID, target: string }> = []
    const flush = async (): Promise<void> => {
      // the batch shares the 16 blocks a lone file reads ahead, so a hostile result's bound is overshot by no more
      const readAhead = Math.max(2, Math.floor(READ_AHEAD_BLOCKS / Math.max(1, batch.length)))
      const settled = await Promise.allSettled(batch.map(async e => await this.writeEntry(e.cid, e.target, opts, blocks, readAhead)))
      const subdirs = batch.filter((_, i) => settled[i].status === 'fulfilled' && settled[i].value === 'directory')
      batch = []
      const failed = settled.find(r => r.status === 'rejected')
      if (failed !== undefined) throw failed.reason
      for (const d of subdirs) await this.writeTree(d.cid, d.target, signal, providers, blocks)
    }
    for await (const child of node.entries({ signal })) {
      if (child.name.includes('/') || child.name === '..' || child.name === '.' || child.name === '') throw new ResultVerificationError(`bad entry name ${JSON.stringify(child.name)}`)
      batch.push({ cid: child.cid, target: join(dir, child.name) })
      if (batch.length === TREE_READS) await flush()
    }
    await flush()
  }

  /** Writes one entry: a file's content, or the empty directory that writeTree fills next. */
  private async writeEntry (cid: CID, target: string, opts: ExporterOptions, blocks: ReadableStorage, readAhead: number): Promise<'file' | 'directory'> {
    const entry = await exporter(cid, blocks, opts)
    if (entry.type === 'directory') {
      await mkdir(target)
      return 'directory'
    }
    if (entry.type !== 'file' && entry.type !== 'raw') throw new ResultVerificationError(`unsupported entry type ${entry.type} at ${basename(target)}`)
    const fh = await open(target, 'wx')
    try {
      for await (const chunk of entry.content({ signal: opts.signal, blockReadConcurrency: readAhead })) await fh.write(chunk)
    } finally { await fh.close() }
    return 'file'
  }

  /**
   * Adds a job creator's input (a file or a directory) and holds it for a running job: the node serves it by
   * CID over bitswap until release(). It is pinned as an 'input' (never pruned by retention) unless something
   * else pinned the same content already; the last holder's release() unpins it and collects its blocks. A
   * process that dies holding an input leaves a pin that releaseExpiredInputs() removes after `holdMs`.
   */
  async holdInput (path: string, opts: { signal?: AbortSignal, holdMs?: number, now?: number } = {}): Promise<HeldInput> {
    const now = opts.now ?? Date.now()
    const { cid, bytes } = await this.addInput(path, opts.signal)
    const key = cid.toString()
    let hold = this.inputHolds.get(key)
    if (hold === undefined) {
      hold = { count: 0, pinnedByUs: false }
      this.inputHolds.set(key, hold)
      await this.settled()
      if (!(await this.helia.pins.isPinned(cid, { signal: opts.signal }))) {
        hold.pinnedByUs = true
        await shared(async () => { await this.pin(cid, bytes, now, 'input', opts.signal, { heldUntil: now + (opts.holdMs ?? DEFAULT_INPUT_HOLD_MS) }) })
      }
    }
    hold.count++
    let released = false
    return {
      cid,
      bytes,
      release: async () => {
        if (released) return
        released = true
        const h = this.inputHolds.get(key)
        if (h === undefined || --h.count > 0) return
        this.inputHolds.delete(key)
        if (h.pinnedByUs) await this.unpin(cid)
      }
    }
  }

  /** Adds a job creator's input with the same disk check and cleanup as addDirectory: a failed add leaves no blocks. */
  private async addInput (path: string, signal?: AbortSignal): Promise<{ cid: CID, bytes: number }> {
    const full = resolve(path)
    const st = await stat(full)
    if (!st.isDirectory() && !st.isFile()) throw new NotADirectoryResultError(`${full} is neither a file nor a directory`)
    const leaves = Math.max(1, Math.ceil(st.size / CHUNK))
    const footprint = st.isDirectory() ? await addFootprint(full) : leaves * onDisk(CHUNK) + (leaves + 1) * 3 * FS_BLOCK
    const reservation = await reserveDisk(this.blocksDir, footprint, { keepFree: this.minFreeBytes, what: 'adding the input' })
    const written = new BlockTracker(this.helia.blockstore)
    try {
      return await shared(async () => {
        const fs = unixfs({ blockstore: written } as unknown as Parameters<typeof unixfs>[0])
        if (st.isDirectory()) {
          let cid: CID | undefined
          for await (const entry of fs.addAll(directorySource(full), { ...RESULT_IMPORT_OPTIONS, signal })) if (entry.path === '') cid = entry.cid
          return { cid: cid ?? await fs.addDirectory({}, { cidVersion: 1, signal }), bytes: await treeBytes(full) }
        }
        const cid = await fs.addByteStream(createReadStream(full), { cidVersion: 1, rawLeaves: true, profile: RESULT_IMPORT_OPTIONS.profile, signal })
        return { cid, bytes: st.size }
      })
    } catch (e) {
      await this.discard(written)
      if (isDiskFull(e)) throw new DiskFullError(this.blocksDir, `adding ${full}`, e)
      throw e
    } finally {
      reservation.release()
    }
  }

  /** Unpins inputs whose holder went away without releasing them (their hold time has passed). */
  async releaseExpiredInputs (now = Date.now()): Promise<CID[]> {
    const gone = (await this.list()).filter(r => r.kind === 'input' && r.heldUntil !== undefined && r.heldUntil < now && !this.inputHolds.has(r.cid.toString()))
    for (const r of gone) await this.unpin(r.cid)
    return gone.map(r => r.cid)
  }

  /**
   * Reads strangers' DAGs (a job's inputs): runs fn with a block source that reads local blocks, else fetches
   * them over bitswap from the connected peers (those in `from` are dialled first); Helia hashes every fetched
   * block and compares it with its CID before handing it over. The DAGs fn keep()s are pinned as
   * 'cached-input' once fn succeeds (the next job naming them reads them locally; retention prunes them with
   * the provider's results). Every other block fetched is removed again afterwards, in the background when no
   * other store operation runs, unless something pinned it meanwhile: a failed or hostile fetch leaves nothing.
   */
  async readBlocks<T> (fn: (blocks: InputBlocks) => Promise<T>, opts: { from?: FetchOptions['from'], signal?: AbortSignal, now?: number } = {}): Promise<T> {
    const fetched: CID[] = []
    try {
      return await shared(async () => {
        const from = opts.from === undefined ? [] : (Array.isArray(opts.from) ? opts.from : [opts.from]).map(a => typeof a !== 'string' ? a : a.startsWith('/') ? multiaddr(a) : peerIdFromString(a))
        // A peer we cannot dial may not be needed (another connected peer may have the blocks); the caller's
        // deadline bounds a fetch that finds no one.
        await Promise.allSettled(from.map(async addr => await this.helia.libp2p.dial(addr, { signal: opts.signal })))
        const kept: Array<{ root: CID, bytes: number }> = []
        const value = await fn({
          get: async (cid, o) => {
            const had = await this.helia.blockstore.has(cid, o)
            const parts: Uint8Array[] = []
            for await (const part of this.helia.blockstore.get(cid, o)) parts.push(part)
            if (!had) fetched.push(cid)
            return parts.length === 1 ? parts[0] : Buffer.concat(parts)
          },
          keep: (root, bytes) => { kept.push({ root, bytes }) }
        })
        for (const k of kept) {
          // content pinned for another reason (a result, a download, a held input) keeps its kind
          if (!(await this.helia.pins.isPinned(k.root, opts))) await this.pin(k.root, k.bytes, opts.now ?? Date.now(), 'cached-input', opts.signal)
        }
        return value
      })
    } finally {
      if (fetched.length > 0) this.dropInBackground(fetched)
    }
  }

  /** Resolves once the blocks of every readBlocks() so far have been dropped. */
  async settledDrops (): Promise<void> {
    while (this.drops.size > 0) await Promise.all([...this.drops])
  }

  private dropInBackground (cids: CID[]): void {
    const p = exclusively(async () => {
      for (const cid of cids) {
        if (await this.helia.pins.isPinned(cid)) continue
        await this.helia.blockstore.delete(cid)
      }
    }).catch(err => { this.dropErrors.push(err) }).finally(() => { this.drops.delete(p) })
    this.drops.add(p)
  }

  /** A CAR of the DAG under cid (blocks fetched over bitswap if missing locally). */
  async * exportCar (cid: CID | string, opts: { signal?: AbortSignal } = {}): AsyncGenerator<Uint8Array> {
    while (exclusive !== undefined) await exclusive
    inFlight++
    try {
      yield * car(this.helia).export(typeof cid === 'string' ? CID.parse(cid) : cid, { signal: opts.signal })
    } finally {
      inFlight--
      if (inFlight === 0) { const d = drained; drained = []; for (const r of d) r() }
    }
  }

  async exportCarToFile (cid: CID | string, path: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const fh = await open(path, 'w')
    try { for await (const chunk of this.exportCar(cid, opts)) await fh.write(chunk) } finally { await fh.close() }
  }

  /** Imports a CAR (bytes or stream); returns its roots, pinned as results. */
  async importCar (data: Uint8Array | AsyncIterable<Uint8Array>, opts: { signal?: AbortSignal } = {}): Promise<CID[]> {
    return await shared(async () => await this.importCarUnlocked(data, opts))
  }

  private async importCarUnlocked (data: Uint8Array | AsyncIterable<Uint8Array>, opts: { signal?: AbortSignal }): Promise<CID[]> {
    const reader = data instanceof Uint8Array ? await CarReader.fromBytes(data) : await CarReader.fromIterable(data)
    await car(this.helia).import(reader, { signal: opts.signal })
    const roots = await reader.getRoots()
    for (const r of roots) await this.pin(r, 0, Date.now(), 'fetched', opts.signal)
    return roots
  }

  /** Results this store keeps (pinned), oldest first. */
  async list (opts: { signal?: AbortSignal } = {}): Promise<StoredResult[]> {
    await this.settled()
    const out: StoredResult[] = []
    for await (const p of this.helia.pins.ls({ signal: opts.signal })) {
      const kind = p.metadata.lilypad
      if (kind !== 'result' && kind !== 'fetched' && kind !== 'input' && kind !== 'cached-input') continue
      out.push({ cid: p.cid, bytes: Number(p.metadata.bytes ?? 0), addedAt: Number(p.metadata.addedAt ?? 0), kind, ...(p.metadata.heldUntil !== undefined ? { heldUntil: Number(p.metadata.heldUntil) } : {}) })
    }
    return out.sort((a, b) => a.addedAt - b.addedAt || a.cid.toString().localeCompare(b.cid.toString()))
  }

  async has (cid: CID | string): Promise<boolean> {
    return await this.helia.blockstore.has(typeof cid === 'string' ? CID.parse(cid) : cid)
  }

  /**
   * Applies the retention policy to this node's own results: unpins those older than maxAgeMs, then the oldest
   * until the total is at most maxTotalBytes (skipping what keep() holds), deletes their download
   * directories and garbage-collects unpinned blocks. Downloads ('fetched') are left alone.
   */
  async prune (policy: RetentionPolicy, opts: PruneOptions = {}): Promise<CID[]> {
    return await exclusively(async () => await this.pruneUnlocked(policy, opts))
  }

  private async pruneUnlocked (policy: RetentionPolicy, opts: PruneOptions): Promise<CID[]> {
    const now = policy.now ?? Date.now()
    // a provider's own results and the inputs it cached share one budget; downloads and held inputs are not its to prune
    const results = (await this.list(opts)).filter(r => r.kind === 'result' || r.kind === 'cached-input')
    const kept = (r: StoredResult): boolean => opts.keep?.(r.cid.toString()) === true
    const remove = new Set<StoredResult>()
    if (policy.maxAgeMs !== undefined) for (const r of results) if (now - r.addedAt > policy.maxAgeMs && !kept(r)) remove.add(r)
    if (policy.maxTotalBytes !== undefined) {
      let total = results.filter(r => !remove.has(r)).reduce((sum, r) => sum + r.bytes, 0)
      for (const r of results) {
        if (total <= policy.maxTotalBytes) break
        if (remove.has(r) || kept(r)) continue
        remove.add(r); total -= r.bytes
      }
    }
    for (const r of remove) await this.unpinUnlocked(r.cid, opts.signal)
    if (remove.size > 0) await this.helia.gc({ signal: opts.signal })
    return [...remove].map(r => r.cid)
  }

  /** Unpins a result or a download (deleting its download directory) and garbage-collects its blocks. */
  async unpin (cid: CID | string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    await exclusively(async () => {
      await this.settled()
      const c = typeof cid === 'string' ? CID.parse(cid) : cid
      if (!(await this.helia.pins.isPinned(c, opts))) return
      await this.unpinUnlocked(c, opts.signal)
      await this.helia.gc({ signal: opts.signal })
    })
  }

  private async unpinUnlocked (cid: CID, signal?: AbortSignal): Promise<void> {
    for await (const _ of this.helia.pins.rm(cid, { signal })) { /* unpin the DAG */ }
    await rm(join(this.downloadsDir, cid.toString()), { recursive: true, force: true })
  }

  async stop (): Promise<void> {
    clearInterval(this.wantSweep)
    await this.settled()
    await this.settledDrops()
    await this.helia.stop()
  }

  /** Whether the store runs its own libp2p host (true) or shares the node's (false). */
  get ownsHost (): boolean { return this.ownsLibp2p }
}
