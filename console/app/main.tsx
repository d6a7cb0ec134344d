// The Lilypad console: a client of the node's API only. Pages by hash route: #/run, #/jobs, #/jobs/<id>,
// #/network, #/wallet.
import { render } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import './style.css'
import { adoptTokenFromUrl, get, token, setToken, forgetToken, type NodeInfo, ApiError } from './api.ts'
import { RunPage } from './run.tsx'
import { JobsPage, JobPage } from './jobs.tsx'
import { NetworkPage } from './network.tsx'
import { WalletPage } from './wallet.tsx'
import { ErrorBox } from './parts.tsx'

const PAGES = [['run', 'Run'], ['jobs', 'Jobs'], ['network', 'Network'], ['wallet', 'Wallet']] as const

function route (): string[] {
  const h = location.hash.replace(/^#\/?/, '')
  return h === '' ? ['run'] : h.split('/')
}

function TokenForm ({ onDone, error }: { onDone: () => void, error?: unknown }) {
  const [value, setValue] = useState('')
  return (
    <main class="page">
      <h1>Connect to your node</h1>
      {error !== undefined && <ErrorBox error={error} />}
      <p>Open the console with the address the node printed (it carries the token), or paste the API token: it is in the node's data directory, file <code>api-token</code>.</p>
      <form onSubmit={e => { e.preventDefault(); setToken(value); onDone() }}>
        <label for="token">API token</label>
        <input id="token" type="password" autocomplete="off" required value={value} onInput={e => { setValue((e.target as HTMLInputElement).value) }} />
        <button type="submit">Connect</button>
      </form>
    </main>
  )
}

function App () {
  const [path, setPath] = useState(route())
  const [node, setNode] = useState<NodeInfo | undefined>()
  const [error, setError] = useState<unknown>()
  const [attempt, setAttempt] = useState(0)
  useEffect(() => {
    const on = (): void => { setPath(route()) }
    addEventListener('hashchange', on)
    return () => { removeEventListener('hashchange', on) }
  }, [])
  useEffect(() => {
    if (token() === undefined) return
    get<NodeInfo>('/v1/node').then(n => { setNode(n); setError(undefined) }, e => {
      if (e instanceof ApiError && e.status === 401) forgetToken()
      setError(e)
    })
  }, [attempt])
  if (token() === undefined || (node === undefined && error !== undefined)) return <TokenForm error={error} onDone={() => { setAttempt(a => a + 1) }} />
  if (node === undefined) return <p class="page" role="status">Connecting to the node…</p>
  const page = path[0]
  return (
    <>
      <header class="top">
        <span class="brand">Lilypad</span>
        <nav aria-label="Pages">
          {PAGES.map(([id, label]) => <a href={`#/${id}`} aria-current={page === id ? 'page' : undefined}>{label}</a>)}
        </nav>
        <span class="who" title={node.address}>{node.network}{node.devnet ? ' (devnet)' : ''}</span>
      </header>
      {page === 'run' && <RunPage node={node} />}
      {page === 'jobs' && path[1] === undefined && <JobsPage node={node} />}
      {page === 'jobs' && path[1] !== undefined && <JobPage id={path[1]} node={node} />}
      {page === 'network' && <NetworkPage node={node} />}
      {page === 'wallet' && <WalletPage node={node} />}
    </>
  )
}

adoptTokenFromUrl()
render(<App />, document.getElementById('app') as HTMLElement)
