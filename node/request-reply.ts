// The client side of our one-request-one-reply stream protocols (deal negotiation, dispute hand-off): dial with
// a timeout, write one length-prefixed message, read one back, close; every step bounded, the stream aborted on
// any failure and tracked in `open` meanwhile, so a stopping service can abort what is in flight.
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

export async function requestReply (dial: (signal: AbortSignal) => Promise<Stream>, request: Uint8Array, opts: RequestReplyOptions): Promise<Uint8Array> {
  const bounded = (ms: number): AbortSignal => AbortSignal.any([AbortSignal.timeout(ms), ...(opts.signal !== undefined ? [opts.signal] : [])])
  const stream = await dial(bounded(opts.dialTimeoutMs))
  opts.open.add(stream)
  try {
    const lp = lpStream(stream, { maxDataLength: opts.maxDataLength })
    await lp.write(request, { signal: bounded(opts.stepMs) })
    const reply = (await lp.read({ signal: bounded(opts.stepMs) })).subarray()
    await stream.close({ signal: bounded(opts.stepMs) }).catch(() => { stream.abort(new Error('close failed')) })
    return reply
  } catch (err) {
    stream.abort(err as Error)
    throw err
  } finally {
    opts.open.delete(stream)
  }
}
