// One URL input fetched into one file: http(s) only, every hop's address checked against the provider's
// policy (the socket connects to the address that was checked), redirects counted and never from https down to
// http, no compression (nothing expands after the count), the declared length and the bytes actually read
// both capped, the body hashed as it streams and compared with the checksum when the spec gives one.
import { createHash } from 'node:crypto'
import { open } from 'node:fs/promises'
import http, { type IncomingMessage } from 'node:http'
import https from 'node:https'
import { rootCertificates } from 'node:tls'
import { isIP } from 'node:net'
import type { AddressPolicy } from './address.ts'
import {
  InputChecksumError, InputError, InputHttpError, InputRedirectError, InputTimeoutError, InputTooLargeError, InputUnreachableError
} from './errors.ts'
import type { UrlInput } from './plan.ts'

export interface UrlFetchOptions {
  /** The file to write (must not exist). */
  dest: string
  maxBytes: number
  maxRedirects: number
  idleTimeoutMs: number
  addresses: AddressPolicy
  /** Authorities trusted besides the system's (PEM); empty: the system's only. */
  trustedCa?: readonly string[]
  /** Aborts the fetch: the job's abort and its deadline. */
  signal: AbortSignal
  /** Called before bytes are written, with the total the file will have reached: reserves disk or throws. */
  grow: (totalBytes: number) => Promise<void>
}

export interface UrlFetched { bytes: number, sha256: string, finalUrl: string, redirects: number }

const REDIRECTS = new Set([301, 302, 303, 307, 308])

class IdleTimeout extends Error {
  static override name = 'IdleTimeout'
  override name = 'IdleTimeout'
}

/** An error of the network rather than of our own disk or code: a refused or reset connection, DNS, TLS, HTTP parse. */
function isNetworkError (e: unknown): boolean {
  const code = (e as { code?: unknown }).code
  if (typeof code !== 'string') return false
  return /^(E(CONN|HOST|NET|AI_|ADDR|PIPE|PROTO|TIMEDOUT)|ENOTFOUND|HPE_|ERR_TLS|ERR_SSL|CERT_|UNABLE_TO|DEPTH_ZERO|SELF_SIGNED|ERR_HTTP|ERR_STREAM_PREMATURE_CLOSE|ECONNRESET)/.test(code)
}

/** A certificate that did not verify (unknown authority, self-signed, expired, for another host). */
function isTlsError (e: unknown): boolean {
  const code = (e as { code?: unknown }).code
  return typeof code === 'string' && /^(CERT_|UNABLE_TO|DEPTH_ZERO|SELF_SIGNED|ERR_TLS_CERT|HOSTNAME_MISMATCH|ERR_TLS_CERT_ALTNAME)/.test(code)
}

/** Whether the socket went idle for too long (the error that surfaces then is a plain reset). */
interface Idle { hit: boolean }

async function request (url: URL, input: UrlInput, opts: UrlFetchOptions, idle: Idle): Promise<IncomingMessage> {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  // Node connects to an address literal without calling lookup: check it here.
  if (isIP(host) !== 0) opts.addresses.check(host, host, input.ref)
  const mod = url.protocol === 'https:' ? https : http
  return await new Promise((resolve, reject) => {
    const req = mod.request({
      protocol: url.protocol,
      hostname: host,
      port: url.port === '' ? undefined : Number(url.port),
      path: `${url.pathname}${url.search}`,
      method: 'GET',
      headers: { 'user-agent': 'lilypad-inputs/1', accept: '*/*', 'accept-encoding': 'identity' },
      agent: false,
      // (an explicit ca replaces the system's list: both go in; certificates are verified either way)
      ...(url.protocol === 'https:' && opts.trustedCa !== undefined && opts.trustedCa.length > 0 ? { ca: [...rootCertificates, ...opts.trustedCa] } : {}),
      lookup: opts.addresses.lookup(input.ref),
      signal: opts.signal,
      timeout: opts.idleTimeoutMs,
      maxHeaderSize: 16 * 1024
    })
    req.once('response', resolve)
    req.once('error', reject)
    // idle for too long, headers or body: give up (a trickle is cut by the deadline instead)
    req.once('timeout', () => { idle.hit = true; req.destroy(new IdleTimeout(`no data for ${opts.idleTimeoutMs} ms`)) })
    req.end()
  })
}

function networkFailure (input: UrlInput, e: unknown, opts: UrlFetchOptions, idle: Idle): unknown {
  if (opts.signal.aborted) return opts.signal.reason
  if (e instanceof IdleTimeout || idle.hit) return new InputTimeoutError(input.ref, `the server sent nothing for ${opts.idleTimeoutMs} ms`, e)
  if (e instanceof InputError) return e
  if (isTlsError(e)) {
    return new InputUnreachableError(input.ref, `the server's certificate was not accepted (${(e as { code: string }).code})`, e,
      'serve the input over https with a certificate a public authority issued for its host name (a provider trusts only those, and the authorities it was configured with)')
  }
  if (isNetworkError(e)) return new InputUnreachableError(input.ref, (e as { code: string }).code, e)
  return e
}

/** The response to follow for this input, after at most maxRedirects checked hops. */
async function follow (input: UrlInput, opts: UrlFetchOptions, idle: Idle): Promise<{ res: IncomingMessage, url: URL, redirects: number }> {
  let url = input.url
  for (let redirects = 0; ; redirects++) {
    let res: IncomingMessage
    try { res = await request(url, input, opts, idle) } catch (e) { throw networkFailure(input, e, opts, idle) }
    const status = res.statusCode ?? 0
    if (!REDIRECTS.has(status)) return { res, url, redirects }
    res.destroy()
    const location = res.headers.location
    if (location === undefined || location === '') throw new InputRedirectError(input.ref, `HTTP ${status} without a Location`)
    if (redirects >= opts.maxRedirects) throw new InputRedirectError(input.ref, `more than ${opts.maxRedirects} redirects`)
    let next: URL
    try { next = new URL(location, url) } catch { throw new InputRedirectError(input.ref, 'a redirect to something that is not a URL') }
    if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new InputRedirectError(input.ref, `a redirect to scheme ${next.protocol}`)
    if (url.protocol === 'https:' && next.protocol === 'http:') throw new InputRedirectError(input.ref, 'a redirect from https down to http')
    if (next.username !== '' || next.password !== '') throw new InputRedirectError(input.ref, 'a redirect to a URL with credentials')
    url = next
  }
}

export async function fetchUrl (input: UrlInput, opts: UrlFetchOptions): Promise<UrlFetched> {
  const idle: Idle = { hit: false }
  const { res, url, redirects } = await follow(input, opts, idle)
  try {
    const status = res.statusCode ?? 0
    if (status !== 200) throw new InputHttpError(input.ref, status)
    const declared = res.headers['content-length']
    if (declared !== undefined) {
      const n = Number(declared)
      if (!/^\d+$/.test(declared) || !Number.isSafeInteger(n)) throw new InputUnreachableError(input.ref, `Content-Length ${JSON.stringify(declared.slice(0, 40))} is not a size`)
      if (n > opts.maxBytes) throw new InputTooLargeError(input.ref, `Content-Length ${n}`, opts.maxBytes)
      await opts.grow(n)
    }
    const hash = createHash('sha256')
    const fh = await open(opts.dest, 'wx')
    let bytes = 0
    try {
      const body = res[Symbol.asyncIterator]()
      for (;;) {
        let next: IteratorResult<Buffer>
        try { next = await body.next() } catch (e) { throw networkFailure(input, e, opts, idle) }
        if (next.done === true) break
        const chunk = next.value
        bytes += chunk.length
        // the declared length may lie (or be absent, chunked): what arrives is counted too
        if (bytes > opts.maxBytes) throw new InputTooLargeError(input.ref, 'the body', opts.maxBytes)
        await opts.grow(bytes)
        hash.update(chunk)
        await fh.write(chunk)
      }
    } finally {
      await fh.close()
    }
    const sha256 = hash.digest('hex')
    if (input.sha256 !== undefined && sha256 !== input.sha256) throw new InputChecksumError(input.ref, `sha256:${input.sha256}`)
    return { bytes, sha256, finalUrl: url.toString(), redirects }
  } finally {
    res.destroy()
  }
}
