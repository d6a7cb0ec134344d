// A job spec's inputs checked before anything is fetched: how many, where each is mounted (a path the
// sandbox can take, over nothing else), where it comes from (a CID a UnixFS exporter can read, an http(s) URL
// without credentials) and its checksum. Nothing a stranger wrote reaches a host path: host paths are made
// from the input's position only.
import { CID } from 'multiformats/cid'
import type { InputSource, JobSpec } from '../modules/spec.ts'
import { InputPathError, TooManyInputsError, UnsupportedInputError, type InputRef } from './errors.ts'
import type { InputPolicy } from './policy.ts'

const DAG_PB = 0x70
const RAW = 0x55
const SHA2_256 = 0x12
const IDENTITY = 0x00

export const MAX_PATH_LENGTH = 255
const MAX_CID_LENGTH = 256
const MAX_URL_LENGTH = 4096

/** Container paths no input may cover or sit under. */
const RESERVED_PATHS = ['/proc', '/sys', '/dev', '/tmp']

export interface IpfsInput { kind: 'ipfs', ref: InputRef, cid: CID }
export interface UrlInput {
  kind: 'url'
  ref: InputRef
  url: URL
  /** Expected SHA-256 of the body, lower-case hex. */
  sha256?: string
  /** The file's name inside the mounted directory (from the URL's last path segment). */
  fileName: string
}
export type PlannedInput = IpfsInput | UrlInput

const under = (a: string, b: string): boolean => a === b || a.startsWith(`${b}/`)

/** Throws InputPathError unless path is an absolute, normalised container path of plain characters. */
export function checkMountPath (path: string, ref: InputRef): void {
  if (path.length > MAX_PATH_LENGTH) throw new InputPathError(ref, `longer than ${MAX_PATH_LENGTH} characters`)
  if (!path.startsWith('/')) throw new InputPathError(ref, 'not absolute')
  if (path === '/') throw new InputPathError(ref, 'the root of the container')
  // ':' and ',' would change the meaning of a Docker bind; spaces and control characters have no business here
  const odd = /[^A-Za-z0-9._/-]/.exec(path)
  if (odd !== null) throw new InputPathError(ref, `character ${JSON.stringify(odd[0])} is not allowed`)
  const segments = path.slice(1).split('/')
  if (segments.some(s => s === '')) throw new InputPathError(ref, 'empty path segment (// or a trailing /)')
  if (segments.some(s => s === '.' || s === '..')) throw new InputPathError(ref, '"." or ".." segment')
  for (const r of RESERVED_PATHS) if (under(path, r)) throw new InputPathError(ref, `inside ${r}`)
}

const refOf = (index: number, s: InputSource): InputRef => ({
  index,
  path: s.path.length > MAX_PATH_LENGTH ? `${s.path.slice(0, 64)}…` : s.path,
  from: s.cid !== undefined ? `ipfs ${s.cid.slice(0, 80)}` : s.url !== undefined ? `url ${s.url.slice(0, 200)}` : s.source
})

function parseCid (s: string, ref: InputRef): CID {
  if (s.length > MAX_CID_LENGTH) throw new UnsupportedInputError(ref, `CID longer than ${MAX_CID_LENGTH} characters`)
  let cid: CID
  try { cid = CID.parse(s.trim()) } catch (e) { throw new UnsupportedInputError(ref, `not a CID: ${(e as Error).message}`) }
  if (cid.code !== DAG_PB && cid.code !== RAW) throw new UnsupportedInputError(ref, `CID codec 0x${cid.code.toString(16)} is not UnixFS (dag-pb or raw)`)
  if (cid.multihash.code !== SHA2_256 && cid.multihash.code !== IDENTITY) throw new UnsupportedInputError(ref, `CID hash 0x${cid.multihash.code.toString(16)} is not sha2-256`)
  return cid
}

function parseChecksum (s: string, ref: InputRef): string {
  const m = /^(?:sha256|sha2-256)[:-]([0-9a-fA-F]{64})$/.exec(s.trim())
  if (m === null) throw new UnsupportedInputError(ref, `checksum ${JSON.stringify(s.slice(0, 80))} is not "sha256:<64 hex digits>"`)
  return m[1].toLowerCase()
}

/** The last path segment of a URL when it makes a plain file name, else "download". */
export function fileNameOf (url: URL): string {
  const last = url.pathname.split('/').pop() ?? ''
  let name = ''
  try { name = decodeURIComponent(last) } catch { name = '' }
  return /^[A-Za-z0-9._-]{1,128}$/.test(name) && name !== '.' && name !== '..' ? name : 'download'
}

function parseUrl (s: string, ref: InputRef): URL {
  if (s.length > MAX_URL_LENGTH) throw new UnsupportedInputError(ref, `URL longer than ${MAX_URL_LENGTH} characters`)
  let url: URL
  try { url = new URL(s.trim()) } catch { throw new UnsupportedInputError(ref, 'not a URL') }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UnsupportedInputError(ref, `scheme ${url.protocol} (only http and https)`)
  // job offers are gossiped to everyone: credentials in them are public, and would be sent on every redirect
  if (url.username !== '' || url.password !== '') throw new UnsupportedInputError(ref, 'the URL carries credentials')
  return url
}

const IPFS_SOURCES = new Set(['ipfs'])

/** Whether the spec names an IPFS input (its staging needs a block source); planInputs classifies them alike. */
export const hasIpfsInput = (spec: Pick<JobSpec, 'inputSources'>): boolean => spec.inputSources.some(s => IPFS_SOURCES.has(s.source) || (s.cid !== undefined && s.url === undefined))
const URL_SOURCES = new Set(['urldownload', 'url', 'http', 'https'])

/**
 * Checks every input of the spec and returns what to fetch, in spec order. Throws the first problem found
 * (TooManyInputsError, InputPathError, UnsupportedInputError) before anything is fetched.
 */
export function planInputs (spec: Pick<JobSpec, 'inputSources' | 'outputs'>, policy: Pick<InputPolicy, 'maxInputs'>): PlannedInput[] {
  const sources = spec.inputSources
  if (sources.length > policy.maxInputs) throw new TooManyInputsError(sources.length, policy.maxInputs)
  const planned: PlannedInput[] = []
  const taken: Array<{ path: string, what: string }> = spec.outputs.map(o => ({ path: o.path, what: `output ${JSON.stringify(o.name)}` }))
  sources.forEach((s, index) => {
    const ref = refOf(index, s)
    checkMountPath(s.path, ref)
    for (const t of taken) {
      if (under(s.path, t.path) || under(t.path, s.path)) throw new InputPathError(ref, `${t.path === s.path ? 'the same path as' : 'nested with'} ${t.what} at ${t.path}`)
    }
    taken.push({ path: s.path, what: `input ${index}` })
    if (IPFS_SOURCES.has(s.source) || (s.cid !== undefined && s.url === undefined)) {
      if (s.cid === undefined) throw new UnsupportedInputError(ref, 'an IPFS input without a CID')
      planned.push({ kind: 'ipfs', ref, cid: parseCid(s.cid, ref) })
    } else if (URL_SOURCES.has(s.source) || s.url !== undefined) {
      if (s.url === undefined) throw new UnsupportedInputError(ref, 'a URL input without a URL')
      const url = parseUrl(s.url, ref)
      planned.push({ kind: 'url', ref, url, fileName: fileNameOf(url), ...(s.checksum !== undefined ? { sha256: parseChecksum(s.checksum, ref) } : {}) })
    } else {
      throw new UnsupportedInputError(ref, `storage source ${JSON.stringify(s.source.slice(0, 40))} is not fetched here (ipfs, urlDownload)`)
    }
  })
  return planned
}
