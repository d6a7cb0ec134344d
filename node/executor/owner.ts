// The id that labels a provider's containers on a (possibly shared) Docker engine: stable per data directory,
// so a restarted provider finds the containers its killed predecessor left, and never touches anyone else's.
import { randomBytes } from 'node:crypto'
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ExecutorOwnerError } from './errors.ts'

export const OWNER_FILE = 'executor-owner'
const OWNER_RE = /^[0-9a-f]{32}$/

export async function loadExecutorOwner (dataDir: string): Promise<string> {
  const path = join(dataDir, OWNER_FILE)
  await mkdir(dataDir, { recursive: true })
  // Written whole under another name, then linked into place: a second process starting at the same moment
  // either links first or reads the complete winner, never a half-written file.
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`
  await writeFile(tmp, randomBytes(16).toString('hex') + '\n', { mode: 0o600 })
  try {
    await link(tmp, path)
  } catch (e) {
    if ((e as { code?: string }).code !== 'EEXIST') throw e
  } finally {
    await rm(tmp, { force: true })
  }
  const id = (await readFile(path, 'utf8')).trim()
  if (!OWNER_RE.test(id)) throw new ExecutorOwnerError(`${path} does not hold an executor owner id (32 hex digits)`)
  return id
}
