// Disk space for inputs: checked before writing, reserved per file system so that two fetches that each fit
// alone cannot both pass the check, and a full disk turned into a named error.
import { existsSync } from 'node:fs'
import { stat, statfs } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'

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

/** ENOSPC or EDQUOT anywhere in the cause chain (libraries rewrap fs errors). */
export function isDiskFull (err: unknown): boolean {
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (code === 'ENOSPC' || code === 'EDQUOT') return true
  }
  return false
}

function existingAncestor (path: string): string {
  let p = resolve(path)
  while (!existsSync(p)) { const up = dirname(p); if (up === p) break; p = up }
  return p
}

const reserved = new Map<number, number>()

export interface Reservation { release: () => void }

/** Reserves `bytes` (plus keepFree left over) on the file system holding path; InsufficientDiskError otherwise. */
export async function reserveDisk (path: string, bytes: number, opts: { keepFree?: number, what?: string } = {}): Promise<Reservation> {
  const at = existingAncestor(path)
  const dev = (await stat(at)).dev
  const s = await statfs(at)
  const free = Number(s.bavail) * Number(s.bsize)
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
