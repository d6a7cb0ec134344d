// A Lilypad mesh peer for web pages: libp2p over WebSockets (the only transport a page can dial), noise,
// yamux, identify and gossipsub under the network's own names. It hears resource offers, checks each one
// exactly as a node does (canonical CBOR, EIP-712 signature, expiry) before it forwards or keeps it, and
// reports them to the page. Bundled for the browser with esbuild (browser/bundle.ts).
import { createLibp2p, type Libp2p } from 'libp2p'
import { webSockets } from '@libp2p/websockets'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { multiaddr } from '@multiformats/multiaddr'
import { sha256 } from 'multiformats/hashes/sha2'
import { decodeEnvelope } from '../protocols/codec.ts'
import { validateEnvelope, nowSeconds } from '../protocols/validation.ts'
import { idOf, type LilypadDomain, type ResourceOffer } from '../protocols/eip712.ts'
import { protocols } from '../protocols/protocol-id.ts'

export interface BrowserOffer { id: string, provider: string, price: string, peer?: string, from: string }

export interface MeshPeerOptions {
  networkId: string
  chainId: string
  verifyingContract: string
  /** /…/ws or /…/tls/ws multiaddrs of nodes to join through (with /p2p/<peer id>) */
  bootstrap: string[]
  onOffer: (offer: BrowserOffer) => void
}

export interface MeshPeer { node: Libp2p<{ pubsub: GossipSub }>, stop: () => Promise<void> }

type Verdict = 'accept' | 'reject' | 'ignore'
interface GossipRouter {
  reportMessageValidationResult: (msgId: string, from: string, verdict: Verdict) => void
}

export async function joinMesh (opts: MeshPeerOptions): Promise<MeshPeer> {
  const domain: LilypadDomain = { chainId: BigInt(opts.chainId), verifyingContract: opts.verifyingContract }
  const topic = protocols.resourceOffers(opts.networkId)
  const node = await createLibp2p({
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // browsers refuse private addresses by default; the page was told where to go
    connectionGater: { denyDialMultiaddr: () => false },
    services: {
      identify: identify({ protocolPrefix: `lilypad/${opts.networkId}` }),
      pubsub: gossipsub({
        globalSignaturePolicy: 'StrictNoSign',
        msgIdFn: async msg => (await sha256.digest(msg.data)).digest,
        asyncValidation: true,
        allowPublishToZeroTopicPeers: true
      })
    }
  })
  const pubsub = node.services.pubsub
  const router = pubsub as unknown as GossipRouter
  const seen = new Set<string>()
  pubsub.addEventListener('gossipsub:message', (e: CustomEvent<{ msgId: string, propagationSource: { toString: () => string }, msg: { topic: string, data: Uint8Array } }>) => {
    const { msgId, propagationSource, msg } = e.detail
    if (msg.topic !== topic) return
    let verdict: Verdict = 'accept'
    try {
      const env = decodeEnvelope(msg.data, ['ResourceOffer', 'OfferWithdrawal'])
      validateEnvelope(env, { domain, now: nowSeconds() })
      if (env.kind === 'ResourceOffer') {
        const offer = env.value as ResourceOffer
        const id = idOf('ResourceOffer', domain, offer)
        if (seen.has(id)) verdict = 'ignore'
        else {
          seen.add(id)
          opts.onOffer({ id, provider: offer.provider, price: offer.price.toString(), ...(env.peer !== undefined ? { peer: env.peer } : {}), from: propagationSource.toString() })
        }
      }
    } catch (err) {
      verdict = (err as { action?: string }).action === 'IGNORE' ? 'ignore' : 'reject'
    }
    router.reportMessageValidationResult(msgId, propagationSource.toString(), verdict)
  })
  pubsub.subscribe(topic)
  await Promise.any(opts.bootstrap.map(async a => await node.dial(multiaddr(a), { signal: AbortSignal.timeout(15_000) })))
  return { node, stop: async () => { await node.stop() } }
}
