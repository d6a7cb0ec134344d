// Network: providers with their offers and reputation, the chain (head, how far this node's follower is behind),
// the mesh (peers, gossip topics), mediators, this node's deals by phase; on a network of several chains, those of the
// chain picked. Refreshed while the page is open.
import { useEffect, useState } from 'preact/hooks'
import { get, multichain, type Amount, type NodeInfo } from './api.ts'
import { Addr, ChainSelect, ErrorBox } from './parts.tsx'

interface Provider {
  address: string
  peer?: string
  offers: number
  minPrice: Amount
  slots: number[]
  modules: string[]
  spec: { cpu: number, ramMb: number, diskMb: number, gpus: number, gpuVramMb: number, gpuModel: string }
  reputation?: { score: number, standing: string, record?: { settled: number, upheld: number, slashed: number, timedOut: number, canaryPassed: number, canaryFailed: number } }
}
interface NetworkView {
  chain: { chainId: number, rpcUrl: string, head: number | null, headAgeSec?: number, followed: number, lagBlocks: number | null }
  mesh: { peers: number, connections: Array<{ peer: string, addr: string, direction: string }>, topics: Array<{ topic: string, meshPeers: number, subscribers: number }> }
  mediators: Array<{ address: string, registered: boolean, networkDefault: boolean, inOffers: boolean }>
  deals: { byPhase: Record<string, number>, open: Array<{ dealId: string, phase: string, provider: string, price: Amount }> }
  offers: number
}

const REFRESH_MS = 3000

export function NetworkPage ({ node }: { node: NodeInfo }) {
  const [view, setView] = useState<NetworkView | undefined>()
  const [providers, setProviders] = useState<Provider[] | undefined>()
  const [error, setError] = useState<unknown>()
  const [tick, setTick] = useState(0)
  const [chainId, setChainId] = useState<number | undefined>(node.chainId)
  const q = multichain(node) && chainId !== undefined ? `?chain=${chainId}` : ''
  useEffect(() => {
    const ac = new AbortController()
    Promise.all([get<NetworkView>(`/v1/network${q}`, ac.signal), get<{ providers: Provider[] }>(`/v1/providers${q}`, ac.signal)])
      .then(([v, p]) => { setView(v); setProviders(p.providers); setError(undefined) }, e => { if (!ac.signal.aborted) setError(e) })
    const t = setTimeout(() => { setTick(n => n + 1) }, REFRESH_MS)
    return () => { ac.abort(); clearTimeout(t) }
  }, [tick, q])
  return (
    <main class="page">
      <h1>Network {node.network}</h1>
      {multichain(node) && <ChainSelect node={node} id="network-chain" label="Show the chain" value={chainId} onChange={c => { setView(undefined); setProviders(undefined); setChainId(c) }} />}
      {error !== undefined && <ErrorBox error={error} />}
      {view === undefined ? <p role="status">Loading…</p> : (
        <>
          <div class="cards">
            <section class="card" aria-labelledby="chain-h">
              <h2 id="chain-h">Chain</h2>
              <dl class="facts">
                <dt>Chain id</dt><dd>{view.chain.chainId}</dd>
                <dt>Head block</dt><dd>{view.chain.head ?? '?'}{view.chain.headAgeSec !== undefined ? <small class="muted"> ({view.chain.headAgeSec} s old)</small> : null}</dd>
                <dt>Followed to</dt><dd>{view.chain.followed}</dd>
                <dt>Lag</dt><dd class={view.chain.lagBlocks !== null && view.chain.lagBlocks > 10 ? 'warn' : ''}>{view.chain.lagBlocks ?? '?'} blocks</dd>
                <dt>RPC</dt><dd><code>{view.chain.rpcUrl}</code></dd>
              </dl>
            </section>
            <section class="card" aria-labelledby="mesh-h">
              <h2 id="mesh-h">Mesh</h2>
              <dl class="facts">
                <dt>Peers</dt><dd>{view.mesh.peers}</dd>
                <dt>Offers known</dt><dd>{view.offers}</dd>
                {view.mesh.topics.map(t => <><dt><code>{t.topic.split('/').slice(-2, -1)[0]}</code></dt><dd>{t.meshPeers} in mesh, {t.subscribers} subscribed</dd></>)}
              </dl>
            </section>
            <section class="card" aria-labelledby="deals-h">
              <h2 id="deals-h">Your deals</h2>
              {Object.keys(view.deals.byPhase).length === 0 ? <p class="muted">None yet.</p> : (
                <dl class="facts">{Object.entries(view.deals.byPhase).map(([p, n]) => <><dt>{p}</dt><dd>{n}</dd></>)}</dl>
              )}
            </section>
          </div>
          <section aria-labelledby="providers-h">
            <h2 id="providers-h">Providers</h2>
            {providers === undefined || providers.length === 0 ? <p class="muted">No provider offers in this node's order book.</p> : (
              <div class="table-wrap">
                <table aria-label="Providers">
                  <thead><tr><th scope="col">Provider</th><th scope="col">Slots</th><th scope="col">Machine</th><th scope="col">Price</th><th scope="col">Modules</th><th scope="col">Reputation</th></tr></thead>
                  <tbody>
                    {providers.map(p => (
                      <tr data-provider={p.address}>
                        <td><Addr value={p.address} />{p.peer !== undefined && <div><small class="muted" title={p.peer}>peer {p.peer.slice(-8)}</small></div>}</td>
                        <td>{p.offers}</td>
                        <td>{(p.spec.cpu / 1000).toFixed(1)} CPU, {p.spec.ramMb} MB{p.spec.gpus > 0 ? `, ${p.spec.gpus}× ${p.spec.gpuModel || 'GPU'} ${p.spec.gpuVramMb} MB` : ''}</td>
                        <td>{p.minPrice.lp} LP</td>
                        <td>{p.modules.length === 0 ? 'any' : p.modules.join(', ')}</td>
                        <td>{p.reputation === undefined ? '–' : <>{(p.reputation.score / 10_000).toFixed(0)}% <small class={`badge standing-${p.reputation.standing}`}>{p.reputation.standing}</small>{p.reputation.record !== undefined && <div><small class="muted">{p.reputation.record.settled} settled, {p.reputation.record.slashed} slashed, {p.reputation.record.timedOut} timed out</small></div>}</>}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
          <section aria-labelledby="mediators-h">
            <h2 id="mediators-h">Mediators</h2>
            <ul>
              {view.mediators.map(m => <li><Addr value={m.address} /> <small class="muted">{[m.registered ? 'registered on chain' : 'not registered', m.networkDefault ? 'network default' : '', m.inOffers ? 'accepted in offers' : ''].filter(x => x !== '').join(', ')}</small></li>)}
            </ul>
          </section>
          {view.deals.open.length > 0 && (
            <section aria-labelledby="open-h">
              <h2 id="open-h">Open deals</h2>
              <ul>{view.deals.open.map(d => <li><Addr value={d.dealId} /> {d.phase} with <Addr value={d.provider} />, {d.price.lp} LP</li>)}</ul>
            </section>
          )}
          <section aria-labelledby="peers-h">
            <h2 id="peers-h">Peers</h2>
            <ul class="peers">{view.mesh.connections.map(c => <li><code title={c.peer}>{c.peer.slice(-10)}</code> <small class="muted">{c.direction} {c.addr}</small></li>)}</ul>
          </section>
        </>
      )}
    </main>
  )
}
