// The client side of our one-request-one-reply stream protocols (deal negotiation, dispute hand-off): dial with
// a timeout, write one length-prefixed message, read one back, close; every step bounded, the stream aborted on
// any failure and tracked in `open` meanwhile, so a stopping service can abort what is in flight. A failure says
// which step failed (`phase`): a peer that cannot be dialled is not the same fault as one that never answers.
import { lpStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'

export interface RequestReplyOptions {
  maxDataLength: number
  dialTimeoutMs: number
  stepMs: number
  signal?: AbortSignal
  /** streams in flight, owned by the calling service */
  open: Set<Stream>
}

export type RequestPhase = 'dial' | 'write' | 'read'

export class RequestReplyError extends Error {
  static override name = 'RequestReplyError'
  override name = RequestReplyError.name
  readonly phase: RequestPhase
  /** the step ran out of time (as opposed to failing) */
  readonly timedOut: boolean
  constructor (phase: RequestPhase, cause: unknown) {
    const e = cause as Error
    const timedOut = e?.name === 'TimeoutError' || e?.name === 'AbortError'
    super(`${phase} ${timedOut ? 'timed out' : 'failed'}: ${e?.message ?? String(cause)}`, { cause })
    this.phase = phase
    this.timedOut = timedOut
  }
}

export async function requestReply (dial: (signal: AbortSignal) => Promise<Stream>, request: Uint8Array, opts: RequestReplyOptions): Promise<Uint8Array> {
  const bounded = (ms: number): AbortSignal => AbortSignal.any([AbortSignal.timeout(ms), ...(opts.signal !== undefined ? [opts.signal] : [])])
  let stream: Stream
  try {
    stream = await dial(bounded(opts.dialTimeoutMs))
  } catch (err) {
    throw new RequestReplyError('dial', err)
  }
  opts.open.add(stream)
  let phase: RequestPhase = 'write'
  try {
    const lp = lpStream(stream, { maxDataLength: opts.maxDataLength })
    await lp.write(request, { signal: bounded(opts.stepMs) })
    phase = 'read'
    const reply = (await lp.read({ signal: bounded(opts.stepMs) })).subarray()
    await stream.close({ signal: bounded(opts.stepMs) }).catch(() => { stream.abort(new Error('close failed')) })
    return reply
  } catch (err) {
    stream.abort(err as Error)
    throw new RequestReplyError(phase, err)
  } finally {
    opts.open.delete(stream)
  }
}
