// One IPFS input written out as a file or a directory tree. Blocks come from a BlockSource (the node's Helia
// store: local blocks, else bitswap from the peers it is connected to, each block hashed and compared with its
// CID before it is used). What a stranger's DAG can make us read is bounded: blocks, bytes of blocks, entries,
// depth, the bytes written (checked against the file's declared size before writing and counted as written).
// Entry names are checked before they become host paths; symlinks and non-UnixFS nodes are refused.
import { mkdir, open } from 'node:fs/promises'
import { join } from 'node:path'
import { exporter, type UnixFSEntry } from 'ipfs-unixfs-exporter'
import type { CID } from 'multiformats/cid'
import { InputContentError, InputError, InputTooLargeError } from './errors.ts'
import type { IpfsInput } from './plan.ts'

/**
 * Where an IPFS input's blocks come from; `get` returns a block verified against its CID. `keep` is told of
 * each DAG staged whole, once the whole job's inputs are staged (the store may cache it for the next job).
 */
export interface BlockSource {
  get: (cid: CID, options: { signal: AbortSignal }) => Promise<Uint8Array>
  keep?: (root: CID, bytes: number) => void
}

export interface IpfsFetchOptions {
  /** Path to write: the input's file, or the root of its directory. Must not exist. */
  dest: string
  blocks: BlockSource
  maxBytes: number
  maxBlocks: number
  maxEntries: number
  maxDepth: number
  signal: AbortSignal
  /** Called before bytes are written with the total reached: reserves disk or throws. */
  grow: (totalBytes: number) => Promise<void>
}

export interface IpfsFetched { bytes: number, blocks: number, entries: number, kind: 'file' | 'directory' }

/** Bytes of blocks read beyond the content itself (DAG nodes, directory listings): a generous allowance. */
const DAG_OVERHEAD = (maxBytes: number): number => Math.floor(maxBytes / 8) + 4 * 1024 * 1024

/** Block reads of one file in flight at once. */
const BLOCK_READ_CONCURRENCY = 8

export async function fetchIpfs (input: IpfsInput, opts: IpfsFetchOptions): Promise<IpfsFetched> {
  let blocks = 0
  let blockBytes = 0
  let written = 0
  let entries = 0
  const maxBlockBytes = opts.maxBytes + DAG_OVERHEAD(opts.maxBytes)
  const counted = {
    get: async function * (cid: CID, o: { signal?: AbortSignal } = {}): AsyncGenerator<Uint8Array> {
      if (++blocks > opts.maxBlocks) throw new InputContentError(input.ref, `a DAG of more than ${opts.maxBlocks} blocks`)
      const block = await opts.blocks.get(cid, { signal: o.signal ?? opts.signal })
      blockBytes += block.byteLength
      if (blockBytes > maxBlockBytes) throw new InputTooLargeError(input.ref, 'its blocks', maxBlockBytes)
      yield block
    }
  }
  const read = async (cid: CID): Promise<UnixFSEntry> => {
    try {
      return await exporter(cid, counted, { signal: opts.signal })
    } catch (e) {
      throw contentError(input, e, opts.signal)
    }
  }

  const writeFile = async (entry: UnixFSEntry, path: string): Promise<void> => {
    if (entry.type === 'file' && entry.unixfs.type !== 'file' && entry.unixfs.type !== 'raw') {
      throw new InputContentError(input.ref, `a UnixFS ${entry.unixfs.type} at ${JSON.stringify(entry.path)} (only files and directories)`)
    }
    if (entry.type !== 'file' && entry.type !== 'raw' && entry.type !== 'identity') {
      throw new InputContentError(input.ref, `a ${entry.type} node at ${JSON.stringify(entry.path)} (only UnixFS files and directories)`)
    }
    // the declared size fails early; what is written is counted as well (a DAG's sizes may lie)
    const declared = Number(entry.size)
    if (written + declared > opts.maxBytes) throw new InputTooLargeError(input.ref, `declared size ${declared} (${written} before it)`, opts.maxBytes)
    await opts.grow(written + declared)
    const fh = await open(path, 'wx')
    try {
      const content = entry.content({ signal: opts.signal, blockReadConcurrency: BLOCK_READ_CONCURRENCY })
      for (;;) {
        let next: IteratorResult<Uint8Array>
        try { next = await content.next() } catch (e) { throw contentError(input, e, opts.signal) }
        if (next.done === true) break
        written += next.value.byteLength
        if (written > opts.maxBytes) throw new InputTooLargeError(input.ref, 'its content', opts.maxBytes)
        await opts.grow(written)
        await fh.write(next.value)
      }
    } finally {
      await fh.close()
    }
  }

  const writeDir = async (cid: CID, path: string, depth: number): Promise<void> => {
    if (depth > opts.maxDepth) throw new InputContentError(input.ref, `directories nested deeper than ${opts.maxDepth}`)
    const dir = await read(cid)
    if (dir.type !== 'directory') throw new InputContentError(input.ref, 'a directory link that is not a directory')
    await mkdir(path)
    const names = new Set<string>()
    const listing = dir.entries({ signal: opts.signal })
    for (;;) {
      let next: IteratorResult<{ name: string, cid: CID }>
      try { next = await listing.next() } catch (e) { throw contentError(input, e, opts.signal) }
      if (next.done === true) break
      const child = next.value
      if (++entries > opts.maxEntries) throw new InputContentError(input.ref, `more than ${opts.maxEntries} files and directories`)
      if (!/^[^/\0]{1,255}$/.test(child.name) || child.name === '.' || child.name === '..') {
        throw new InputContentError(input.ref, `an entry named ${JSON.stringify(child.name.slice(0, 80))}`)
      }
      if (names.has(child.name)) throw new InputContentError(input.ref, `two entries named ${JSON.stringify(child.name)}`)
      names.add(child.name)
      const target = join(path, child.name)
      const entry = await read(child.cid)
      if (entry.type === 'directory') await writeDir(child.cid, target, depth + 1)
      else await writeFile(entry, target)
    }
  }

  const root = await read(input.cid)
  if (root.type === 'directory') {
    await writeDir(input.cid, opts.dest, 1)
    return { bytes: written, blocks, entries, kind: 'directory' }
  }
  await writeFile(root, opts.dest)
  return { bytes: written, blocks, entries: 1, kind: 'file' }
}

/** The exporter's complaints about a malformed DAG as the job's fault; aborts and our own errors unchanged. */
function contentError (input: IpfsInput, e: unknown, signal: AbortSignal): unknown {
  if (signal.aborted) return signal.reason
  if (e instanceof InputError) return e
  const name = (e as Error).name ?? ''
  if (['NotUnixFSError', 'OverReadError', 'UnderReadError', 'NoResolverError', 'NotFoundError', 'InvalidParametersError'].includes(name)) {
    return new InputContentError(input.ref, `not a valid UnixFS DAG (${name}: ${(e as Error).message})`, e)
  }
  return e
}
