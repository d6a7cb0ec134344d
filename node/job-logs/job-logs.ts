// Live logs over /lilypad/<network>/logs/1.0.0 (protocols/logs). The job creator pulls: it opens a stream to the
// provider peer it negotiated the deal with and asks to follow that deal; the provider streams the container's
// output as the executor produces it. Pulling rather than pushing means the job creator serves no handler at all
// (no stranger can push it anything), it dials the way negotiation already did (a provider with a public address,
// a job creator behind NAT), and the provider decides who may read: only the peer the deal was negotiated with.
// Every resource is bounded (limits in constants.ts): stream opens per peer, streams per peer and in all, bytes per
// deal and per second, chunk size, what is queued for a slow reader, feeds kept. Logs are advisory: nothing here
// is ever used for the result, which stays the CID-verified one.
import { lpStream } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Connection, Stream } from '@libp2p/interface'
import { protocols } from '../../protocols/protocol-id.ts'
import {
  decodeLogFrame, decodeLogRequest, encodeLogFrame, encodeLogRequest, splitChunk, MAX_LOG_FRAME, MAX_LOG_REQUEST,
  type LogEndCode, type LogStreamName
} from '../../protocols/logs/index.ts'
import { RateLimit } from '../../core/rate-limit.ts'
import { openStream } from '../host/connections.ts'
import { guardOf, type GuardedHost, type PeerGuard } from '../peer-guard/index.ts'
import type { LilypadHost } from '../host/create-host.ts'
import type { Components } from '../components.ts'
import { defaultLogLimits, type LogLimits } from './constants.ts'

export interface LogChunk { stream: LogStreamName, data: Uint8Array }

/** A provider's log stream broke the bounds or the protocol: the job creator cut it (and penalised the peer). */
export class LogStreamError extends Error {
  static override name = 'LogStreamError'
  override name = LogStreamError.name
  readonly code: 'MALFORMED' | 'FLOOD' | 'REFUSED'
  constructor (code: LogStreamError['code'], message: string) {
    super(`${code}: ${message}`)
    this.code = code
  }
}

type LogComponents = Pick<Components, 'clock' | 'logger' | 'metrics'>

interface Feed {
  dealId: string
  /** the only peer that may follow it: the one the deal was negotiated with */
  peer: string
  backlog: LogChunk[]
  backlogBytes: number
  ended: boolean
  endedAt: number
  followers: Set<Follower>
}

/** One job creator reading one deal's output: frames queued (bounded) and written in order. */
class Follower {
  readonly key: string
  readonly peer: string
  sent = 0
  dropped = 0
  private readonly queue: Uint8Array[] = []
  private queued = 0
  private finished = false
  private wake: (() => void) | undefined
  private readonly server: LiveLogs

  constructor (server: LiveLogs, key: string, peer: string) {
    this.server = server
    this.key = key
    this.peer = peer
  }

  /** Queues a piece of output within the deal's budget, the per-second rate and the queue bound. */
  offer (chunk: LogChunk): void {
    const l = this.server.limits
    for (const part of splitChunk(chunk.data)) {
      if (this.finished) return
      if (this.sent + part.length > l.maxBytesPerDeal) { this.finish('LIMIT', `${l.maxBytesPerDeal} bytes sent`); return }
      if (this.queued + part.length > l.queueBytes || !this.server.rate.take(this.key, part.length)) {
        this.dropped += part.length
        this.server.c.metrics.logBytes.inc({ side: 'provider', what: 'dropped' }, part.length)
        continue
      }
      if (this.dropped > 0) { this.push(encodeLogFrame({ type: 'dropped', bytes: Math.min(this.dropped, 2 ** 32 - 1) })); this.dropped = 0 }
      this.push(encodeLogFrame({ type: 'chunk', stream: chunk.stream, data: part }))
      this.sent += part.length
    }
  }

  finish (code: LogEndCode, detail?: string): void {
    if (this.finished) return
    this.push(encodeLogFrame({ type: 'end', code, ...(detail !== undefined ? { detail } : {}) }))
    this.finished = true
    this.wake?.()
  }

  private push (frame: Uint8Array): void {
    this.queue.push(frame)
    this.queued += frame.length
    this.wake?.()
  }

  /** Writes frames until the closing one is written; every write bounded by a step timeout and the stop signal. */
  async pump (stream: Stream, stop: AbortSignal): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: MAX_LOG_FRAME })
    const c = this.server.c
    // a reader that went away (reset, closed, its connection gone) frees its stream slot at once, not at the deal's end
    let gone = false
    stream.addEventListener('close', () => { gone = true; this.wake?.() }, { once: true })
    for (;;) {
      if (gone) return
      const frame = this.queue.shift()
      if (frame === undefined) {
        if (this.finished) break
        await new Promise<void>(resolve => { this.wake = resolve })
        this.wake = undefined
        continue
      }
      this.queued -= frame.length
      await lp.write(frame, { signal: AbortSignal.any([AbortSignal.timeout(this.server.limits.stepMs), stop]) })
      c.metrics.logBytes.inc({ side: 'provider', what: 'sent' }, frame.length)
    }
    await stream.close({ signal: AbortSignal.timeout(this.server.limits.stepMs) }).catch(() => { stream.abort(new Error('close failed')) })
  }
}

/**
 * Provider side: keeps each deal's live output (a bounded backlog for a follower that attaches late) and serves it
 * to the deal's job creator peer only. `expect(dealId, peer)` names who may follow a deal (called when the deal is
 * countersigned, before its container can start); `publish` feeds output; `end` closes the deal's streams.
 */
export class LiveLogs {
  readonly protocol: string
  readonly limits: LogLimits
  readonly c: LogComponents
  readonly rate: RateLimit
  private readonly host: LilypadHost
  private readonly guard: PeerGuard | undefined
  private readonly opens: RateLimit
  private readonly feeds = new Map<string, Feed>()
  private readonly perPeer = new Map<string, number>()
  private readonly open = new Set<Stream>()
  private active = 0
  private nextKey = 0
  private stopController = new AbortController()
  private running = false

  constructor (host: LilypadHost, components: LogComponents, init: { networkId: string, limits?: Partial<LogLimits>, guard?: PeerGuard }) {
    this.host = host
    this.c = { ...components, logger: components.logger.child({ component: 'live-logs' }) }
    this.protocol = protocols.logs(init.networkId)
    this.limits = { ...defaultLogLimits, ...init.limits }
    this.rate = new RateLimit(components.clock, { burst: this.limits.burstBytes, perSecond: this.limits.bytesPerSecond, maxKeys: this.limits.maxStreams * 4 })
    this.opens = new RateLimit(components.clock, { burst: this.limits.opensBurst, perSecond: this.limits.opensPerSecond })
    this.guard = init.guard ?? (typeof (host as Partial<GuardedHost>).hangUp === 'function' ? guardOf(host as GuardedHost, components) : undefined)
  }

  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    this.stopController = new AbortController()
    await this.host.handle(this.protocol, (stream, connection) => { void this.answer(stream, connection) }, {
      maxInboundStreams: this.limits.streamsPerPeer + 1, runOnLimitedConnection: true
    })
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    await this.host.unhandle(this.protocol)
    for (const f of this.feeds.values()) for (const x of f.followers) x.finish('STOPPING')
    this.stopController.abort(new Error('live logs stopping'))
    for (const s of this.open) s.abort(new Error('live logs stopping'))
    this.open.clear()
    this.feeds.clear()
  }

  /** Feeds being kept, and streams being served (tests, diagnostics). */
  get size (): number { return this.feeds.size }
  get streams (): number { return this.active }

  /** Only `peer` (the peer the deal was negotiated with) may follow `dealId`. */
  expect (dealId: string, peer: string): void {
    const id = dealId.toLowerCase()
    const f = this.feeds.get(id)
    if (f !== undefined) { f.peer = peer; return }
    this.sweep()
    this.feeds.set(id, { dealId: id, peer, backlog: [], backlogBytes: 0, ended: false, endedAt: 0, followers: new Set() })
    while (this.feeds.size > this.limits.maxDeals) this.evict()
  }

  /** A piece of the deal's container output, as it was produced. Ignored for a deal nobody may follow. */
  publish (dealId: string, chunk: LogChunk): void {
    const f = this.feeds.get(dealId.toLowerCase())
    if (f === undefined || chunk.data.length === 0) return
    if (f.ended) { f.ended = false }
    const data = chunk.data.length > this.limits.backlogBytes ? chunk.data.subarray(chunk.data.length - this.limits.backlogBytes) : chunk.data
    f.backlog.push({ stream: chunk.stream, data })
    f.backlogBytes += data.length
    while (f.backlogBytes > this.limits.backlogBytes) {
      const first = f.backlog.shift()
      if (first === undefined) break
      f.backlogBytes -= first.data.length
    }
    for (const x of f.followers) x.offer(chunk)
  }

  /** The deal's container ended: its followers are told (DONE) once they have what was produced. */
  end (dealId: string): void {
    const f = this.feeds.get(dealId.toLowerCase())
    if (f === undefined) return
    f.ended = true
    f.endedAt = this.c.clock.now()
    for (const x of f.followers) x.finish('DONE')
  }

  /** The deal is over for good (closed on chain, or given up): its feed goes. */
  forget (dealId: string): void {
    const id = dealId.toLowerCase()
    const f = this.feeds.get(id)
    if (f === undefined) return
    for (const x of f.followers) x.finish('DONE')
    this.feeds.delete(id)
  }

  private sweep (): void {
    const now = this.c.clock.now()
    for (const [id, f] of this.feeds) if (f.ended && f.followers.size === 0 && now - f.endedAt > this.limits.keepAfterEndMs) this.feeds.delete(id)
  }

  /** Over the bound: the oldest finished feed goes, else the oldest. */
  private evict (): void {
    let victim: Feed | undefined
    for (const f of this.feeds.values()) { if (f.ended) { victim = f; break } }
    victim ??= this.feeds.values().next().value
    if (victim === undefined) return
    for (const x of victim.followers) x.finish('STOPPING', 'too many deals followed')
    this.feeds.delete(victim.dealId)
  }

  private async refuse (stream: Stream, code: LogEndCode, detail: string): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: MAX_LOG_FRAME })
    await lp.write(encodeLogFrame({ type: 'end', code, detail }), { signal: AbortSignal.timeout(this.limits.stepMs) })
    await stream.close({ signal: AbortSignal.timeout(this.limits.stepMs) }).catch(() => { stream.abort(new Error('close failed')) })
  }

  private async answer (stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString()
    if (this.guard?.banned(peer) === true || !this.running) { stream.abort(new Error('refused')); return }
    this.open.add(stream)
    let counted = false
    let follower: Follower | undefined
    let feed: Feed | undefined
    try {
      if (!this.opens.take(peer)) {
        this.c.metrics.limited.inc({ service: 'logs', action: 'rate-limited' })
        this.guard?.penalize(peer, 1, 'logs: opens streams over its rate', 'logs')
        await this.refuse(stream, 'RATE_LIMITED', 'too many log streams opened')
        return
      }
      let dealId: string
      try {
        const lp = lpStream(stream, { maxDataLength: MAX_LOG_REQUEST })
        dealId = decodeLogRequest((await lp.read({ signal: AbortSignal.timeout(this.limits.stepMs) })).subarray()).dealId.toLowerCase()
      } catch (err) {
        // oversized, garbled, or nothing in time: an honest job creator sends one small request at once
        this.guard?.penalize(peer, 5, 'logs: malformed request', 'logs')
        throw err
      }
      feed = this.feeds.get(dealId)
      if (feed === undefined || feed.peer !== peer) {
        // a stranger asking for someone else's deal hears what an unknown deal gets; it costs it a point
        this.guard?.penalize(peer, 1, 'logs: a deal that is not its own', 'logs')
        this.c.metrics.limited.inc({ service: 'logs', action: 'refused' })
        this.c.logger.debug({ dealId, peer }, 'log stream refused: not the deal\'s job creator')
        await this.refuse(stream, 'UNKNOWN_DEAL', 'no such deal for this peer')
        return
      }
      const mine = this.perPeer.get(peer) ?? 0
      if (mine >= this.limits.streamsPerPeer || this.active >= this.limits.maxStreams) {
        this.c.metrics.limited.inc({ service: 'logs', action: 'busy' })
        await this.refuse(stream, 'BUSY', 'too many log streams at once')
        return
      }
      this.perPeer.set(peer, mine + 1)
      this.active++
      counted = true
      this.c.metrics.logStreams.inc({ side: 'provider' })
      follower = new Follower(this, `${dealId}/${this.nextKey++}`, peer)
      for (const chunk of feed.backlog) follower.offer(chunk)
      if (feed.ended) follower.finish('DONE')
      feed.followers.add(follower)
      await follower.pump(stream, this.stopController.signal)
    } catch (err) {
      stream.abort(err as Error)
    } finally {
      if (follower !== undefined) feed?.followers.delete(follower)
      if (counted) {
        this.active--
        const n = (this.perPeer.get(peer) ?? 1) - 1
        if (n <= 0) this.perPeer.delete(peer); else this.perPeer.set(peer, n)
        this.c.metrics.logStreams.dec({ side: 'provider' })
      }
      this.open.delete(stream)
    }
  }
}

export interface FollowLogsOptions {
  networkId: string
  /** the provider peer the deal was negotiated with: the only one whose output is read */
  peer: string
  dealId: string
  signal: AbortSignal
  onChunk: (chunk: LogChunk) => void
  /** told when the provider dropped output over the rate */
  onDropped?: (bytes: number) => void
  limits?: Partial<LogLimits>
  guard?: PeerGuard
}

/**
 * Job creator side: follows a deal's output until the provider ends the stream (resolves with its code) or
 * `signal` aborts (resolves with 'STOPPING'). A provider that breaks the protocol or the bounds — malformed
 * frames, more bytes than a deal may send, faster than the rate allows (with room for jitter) — is cut off
 * with LogStreamError and loses points in the peer guard, like any other stream.
 */
export async function followLogs (host: LilypadHost, components: LogComponents, opts: FollowLogsOptions): Promise<{ code: LogEndCode, bytes: number, dropped: number }> {
  const limits = { ...defaultLogLimits, ...opts.limits }
  const guard = opts.guard ?? (typeof (host as Partial<GuardedHost>).hangUp === 'function' ? guardOf(host as GuardedHost, components) : undefined)
  // twice the provider's own bounds: its clock and the network's batching may bunch honest output
  const rate = new RateLimit(components.clock, { burst: 2 * limits.burstBytes, perSecond: 2 * limits.bytesPerSecond, maxKeys: 1 })
  const step = (): AbortSignal => AbortSignal.any([AbortSignal.timeout(limits.stepMs), opts.signal])
  const stream = await openStream(host, peerIdFromString(opts.peer), protocols.logs(opts.networkId), { signal: step() })
  const onAbort = (): void => { stream.abort(new Error('stopped following')) }
  opts.signal.addEventListener('abort', onAbort, { once: true })
  components.metrics.logStreams.inc({ side: 'job-creator' })
  let bytes = 0
  let dropped = 0
  const cut = (code: 'MALFORMED' | 'FLOOD', reason: string): LogStreamError => {
    guard?.penalize(opts.peer, 5, `logs: ${reason}`, 'logs')
    components.metrics.logBytes.inc({ side: 'job-creator', what: 'refused' })
    components.logger.info({ dealId: opts.dealId, peer: opts.peer, reason }, 'live log stream cut')
    const err = new LogStreamError(code, reason)
    stream.abort(err)
    return err
  }
  try {
    const lp = lpStream(stream, { maxDataLength: MAX_LOG_FRAME })
    await lp.write(encodeLogRequest({ type: 'follow', dealId: opts.dealId }), { signal: step() })
    for (;;) {
      let raw: Uint8Array
      try {
        // no step bound here: the container may be silent for a while; the follow's own signal ends it
        raw = (await lp.read({ signal: opts.signal })).subarray()
      } catch (err) {
        if (opts.signal.aborted) return { code: 'STOPPING', bytes, dropped }
        if ((err as Error).name === 'InvalidDataLengthError') throw cut('FLOOD', 'a frame over the size limit')
        throw err
      }
      let frame
      try { frame = decodeLogFrame(raw) } catch (err) { throw cut('MALFORMED', (err as Error).message) }
      if (frame.type === 'end') {
        await stream.close({ signal: step() }).catch(() => { stream.abort(new Error('close failed')) })
        return { code: frame.code, bytes, dropped }
      }
      if (frame.type === 'dropped') { dropped += frame.bytes; opts.onDropped?.(frame.bytes); continue }
      bytes += frame.data.length
      if (bytes > limits.maxBytesPerDeal) throw cut('FLOOD', `more than ${limits.maxBytesPerDeal} bytes for one deal`)
      if (!rate.take('provider', frame.data.length)) throw cut('FLOOD', `faster than ${limits.bytesPerSecond} bytes per second`)
      components.metrics.logBytes.inc({ side: 'job-creator', what: 'received' }, frame.data.length)
      opts.onChunk({ stream: frame.stream, data: frame.data })
    }
  } catch (err) {
    if (opts.signal.aborted && !(err instanceof LogStreamError)) return { code: 'STOPPING', bytes, dropped }
    stream.abort(err as Error)
    throw err
  } finally {
    opts.signal.removeEventListener('abort', onAbort)
    components.metrics.logStreams.dec({ side: 'job-creator' })
  }
}
