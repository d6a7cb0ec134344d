// Disk space for everything a node writes that a stranger sized (result directories, Helia blocks): checked
// before writing, and a full disk turned into a named error. Space promised to writes still in progress is
// reserved per file system, so two writes that each fit alone cannot both pass the check and fill the disk.
import { existsSync } from 'node:fs'
import { stat, statfs } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'

/** What a file of n bytes may take on disk: whole file-system blocks, plus one for its inode's metadata. */
export const FS_BLOCK = 4096
export const onDisk = (bytes: number): number => (Math.ceil(bytes / FS_BLOCK) + 1) * FS_BLOCK

export class InsufficientDiskError extends Error {
  static override name = 'InsufficientDiskError'
  override name = 'InsufficientDiskError'
  readonly path: string
  readonly freeBytes: number
  readonly neededBytes: number
  readonly hint: string
  constructor (path: string, freeBytes: number, neededBytes: number, what = 'the job') {
    super(`only ${freeBytes} bytes free under ${path}, ${what} needs ${neededBytes}`)
    this.path = path
    this.freeBytes = freeBytes
    this.neededBytes = neededBytes
    this.hint = `free space on the file system holding ${path} (old results: prune them), or point the data directory at a larger disk`
  }
}

/** The disk filled up while writing (ENOSPC/EDQUOT): what was being written has been removed again. */
export class DiskFullError extends Error {
  static override name = 'DiskFullError'
  override name = 'DiskFullError'
  readonly path: string
  readonly hint: string
  constructor (path: string, what: string, cause?: unknown) {
    super(`the disk holding ${path} filled up while ${what}; nothing partial was kept`, { cause })
    this.path = path
    this.hint = `free space on the file system holding ${path} (old results: prune them), or point the data directory at a larger disk`
  }
}

/** ENOSPC or EDQUOT anywhere in the cause chain (libraries rewrap fs errors, some only in the message). */
export function isDiskFull (err: unknown): boolean {
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (code === 'ENOSPC' || code === 'EDQUOT') return true
    if (/\b(ENOSPC|EDQUOT)\b/.test(String((e as { message?: unknown }).message ?? ''))) return true
  }
  return false
}

/** The nearest existing directory at or above path (a result directory may not exist yet). */
function existingAncestor (path: string): string {
  let p = resolve(path)
  while (!existsSync(p)) { const up = dirname(p); if (up === p) break; p = up }
  return p
}

/** Bytes an unprivileged writer may still use on the file system holding path. */
export async function freeBytes (path: string): Promise<number> {
  const s = await statfs(existingAncestor(path))
  return Number(s.bavail) * Number(s.bsize)
}

// Per file system (device number): bytes promised to writes in progress in this process.
const reserved = new Map<number, number>()

export interface Reservation { release: () => void }

/**
 * Checks that `bytes` (plus `keepFree`) fit on the file system holding path, counting what other writes of
 * this process have reserved, and reserves them until release(). Throws InsufficientDiskError otherwise.
 */
export async function reserveDisk (path: string, bytes: number, opts: { keepFree?: number, what?: string } = {}): Promise<Reservation> {
  const at = existingAncestor(path)
  const dev = (await stat(at)).dev
  const free = await freeBytes(at)
  const others = reserved.get(dev) ?? 0
  const needed = bytes + (opts.keepFree ?? 0)
  if (free - others < needed) throw new InsufficientDiskError(at, Math.max(0, free - others), needed, opts.what)
  reserved.set(dev, others + bytes)
  let released = false
  return {
    release: () => {
      if (released) return
      released = true
      const left = (reserved.get(dev) ?? bytes) - bytes
      if (left <= 0) reserved.delete(dev); else reserved.set(dev, left)
    }
  }
}
