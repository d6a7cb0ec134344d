// A small real file system for disk-full tests: a tmpfs of a few MiB mounted on a fresh directory (needs root,
// as the test machine and CI run), unmounted and removed in teardown. Size and inode count are both limits.
import { execFile } from 'node:child_process'
import { closeSync, openSync, writeSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface SmallDisk { path: string, unmount: () => Promise<void> }

export async function mountTmpfs (opts: { bytes: number, inodes?: number }): Promise<SmallDisk> {
  const path = await mkdtemp(join(tmpdir(), 'lilypad-small-disk-'))
  const o = [`size=${opts.bytes}`, ...(opts.inodes !== undefined ? [`nr_inodes=${opts.inodes}`] : []), 'mode=0755']
  try {
    await run('mount', ['-t', 'tmpfs', '-o', o.join(','), 'tmpfs', path])
  } catch (e) {
    await rm(path, { recursive: true, force: true })
    throw new Error(`cannot mount a tmpfs for the disk-full test (needs root): ${(e as Error).message}`)
  }
  return {
    path,
    unmount: async () => {
      await run('umount', [path])
      await rm(path, { recursive: true, force: true })
    }
  }
}

/** Writes zeros to `file` until the file system says ENOSPC; returns the bytes written. */
export function fillDisk (file: string): number {
  const fd = openSync(file, 'w')
  const chunk = Buffer.alloc(64 * 1024)
  let n = 0
  try {
    for (;;) {
      try { n += writeSync(fd, chunk) } catch (e) {
        if ((e as { code?: string }).code === 'ENOSPC') return n
        throw e
      }
    }
  } finally { closeSync(fd) }
}
