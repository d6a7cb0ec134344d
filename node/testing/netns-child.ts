// Runs Lilypad hosts inside a network namespace for a parent test, driven over IPC (spawned through
// NetnsLab.spawn with an 'ipc' stdio channel). Every command gets exactly one reply: { ok: true, … } or
// { ok: false, error }.
import { multiaddr } from '@multiformats/multiaddr'
import { createHost, type HostOptions, type LilypadHost } from '../host/create-host.ts'
import { remoteIp } from '../host/connections.ts'
import { gossipTopics } from '../../protocols/gossip/index.ts'
import { testDomain, NETWORK } from './fixtures.ts'

export type ChildCommand =
  | { type: 'start', count: number, options: Partial<Omit<HostOptions, 'networkId' | 'domain' | 'privateKey' | 'swarmKey'>> }
  | { type: 'dial', from: number, addr: string, timeoutMs?: number }
  | { type: 'subscribe' }
  | { type: 'state', host: number }
  | { type: 'close', host: number }
  | { type: 'stop' }

export interface ChildState {
  connections: Array<{ peer: string, addr: string, ip?: string, direction: string }>
  /** peers holding a reservation, when the host relays */
  reservations?: string[]
  /** the host's own addresses */
  addrs: string[]
  /** gossipsub scores of connected peers */
  scores: Record<string, number>
}

const hosts: LilypadHost[] = []
const topic = gossipTopics(NETWORK).resourceOffers

async function handle (m: ChildCommand): Promise<Record<string, unknown>> {
  switch (m.type) {
    case 'start': {
      for (let i = 0; i < m.count; i++) {
        const h = await createHost({ networkId: NETWORK, domain: testDomain, ...m.options })
        await h.start()
        hosts.push(h)
      }
      return { peers: hosts.map(h => h.peerId.toString()), addrs: hosts.map(h => h.getMultiaddrs().map(String)) }
    }
    case 'dial': {
      const conn = await hosts[m.from].dial(multiaddr(m.addr), { signal: AbortSignal.timeout(m.timeoutMs ?? 5000) })
      // a refused connection may be torn down right after the handshake: report what stays open
      return { remoteAddr: conn.remoteAddr.toString() }
    }
    case 'subscribe': {
      for (const h of hosts) h.services.pubsub.subscribe(topic)
      return {}
    }
    case 'state': {
      const h = hosts[m.host]
      const pubsub = h.services.pubsub as unknown as { getScore: (p: string) => number }
      const connections = h.getConnections().filter(c => c.status === 'open').map(c => ({ peer: c.remotePeer.toString(), addr: c.remoteAddr.toString(), direction: c.direction, ...(remoteIp(c.remoteAddr) !== undefined ? { ip: remoteIp(c.remoteAddr) } : {}) }))
      const scores: Record<string, number> = {}
      for (const c of connections) scores[c.peer] = pubsub.getScore(c.peer)
      const reservations = h.services.relay === undefined ? undefined : [...h.services.relay.reservations.keys()].map(String)
      return { connections, scores, addrs: h.getMultiaddrs().map(String), ...(reservations !== undefined ? { reservations } : {}) } satisfies ChildState as unknown as Record<string, unknown>
    }
    case 'close': {
      // the host keeps its index (stopped), so later indices stay valid
      await hosts[m.host].stop()
      return {}
    }
    case 'stop': {
      await Promise.all(hosts.map(async h => { await h.stop() }))
      return {}
    }
  }
}

process.on('message', (m: ChildCommand & { id: number }) => {
  handle(m).then(
    r => { process.send?.({ id: m.id, ok: true, ...r }) },
    (err: Error) => { process.send?.({ id: m.id, ok: false, error: `${err.name}: ${err.message}` }) }
  ).finally(() => { if (m.type === 'stop') process.exit(0) })
})
process.send?.({ id: 0, ok: true, ready: true })
