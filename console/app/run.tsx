// Run: pick a module (a built-in, or any reference the node resolves), fill the form its template's declared
// inputs make (defaults filled in), on a network of several chains the chain the job settles on, optionally a
// provider, a price cap and an audit probability; submit, then follow the job on its page.
import { useEffect, useState } from 'preact/hooks'
import { chainLabel, get, multichain, post, type Job, type ModuleInfo, type NodeInfo } from './api.ts'
import { ChainSelect, ErrorBox } from './parts.tsx'
import './eip1193.ts'

const OTHER = '(other)'

export function RunPage ({ node }: { node: NodeInfo }) {
  const [modules, setModules] = useState<ModuleInfo[]>([])
  const [choice, setChoice] = useState('')
  const [otherRef, setOtherRef] = useState('')
  const [module, setModule] = useState<ModuleInfo | undefined>()
  const [values, setValues] = useState<Record<string, string>>({})
  const [target, setTarget] = useState('')
  const [maxPrice, setMaxPrice] = useState('')
  const [audit, setAudit] = useState('')
  const [useWallet, setUseWallet] = useState(false)
  const [chainId, setChainId] = useState<number | undefined>(node.chainId)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>()

  useEffect(() => {
    get<{ modules: ModuleInfo[] }>('/v1/modules').then(r => {
      setModules(r.modules)
      const first = r.modules.find(m => m.ref.startsWith('cowsay:')) ?? r.modules[0]
      if (first !== undefined) { setChoice(first.ref); pick(first) }
    }, setError)
  }, [])

  function pick (m: ModuleInfo | undefined): void {
    setModule(m)
    setValues(Object.fromEntries((m?.inputs ?? []).map(i => [i.name, i.default ?? ''])))
  }

  function onChoice (ref: string): void {
    setChoice(ref)
    setError(undefined)
    pick(ref === OTHER ? undefined : modules.find(m => m.ref === ref))
  }

  async function loadOther (): Promise<void> {
    setError(undefined)
    try { pick(await get<ModuleInfo>(`/v1/module?ref=${encodeURIComponent(otherRef.trim())}`)) } catch (e) { pick(undefined); setError(e) }
  }

  async function submit (e: Event): Promise<void> {
    e.preventDefault()
    if (module === undefined) return
    setBusy(true)
    setError(undefined)
    const inputs = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== ''))
    const body: Record<string, unknown> = { module: module.ref, inputs }
    if (target.trim() !== '') body.target = target.trim()
    if (maxPrice.trim() !== '') body.maxPrice = maxPrice.trim()
    if (audit.trim() !== '') body.audit = Number(audit)
    if (multichain(node) && chainId !== undefined) body.chain = chainId
    try {
      const eth = window.ethereum
      if (useWallet && eth !== undefined) {
        // the browser wallet is the job creator: it signs the job offer and the deal when the job page asks
        const accounts = await eth.request({ method: 'eth_requestAccounts' }) as string[]
        if (accounts[0] === undefined) throw new Error('the wallet gave no account')
        // the wallet signs for the chain the job settles on
        if (chainId !== undefined && Number(await eth.request({ method: 'eth_chainId' })) !== chainId) {
          await eth.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: `0x${chainId.toString(16)}` }] })
        }
        body.wallet = accounts[0]
      }
      const job = await post<Job>('/v1/jobs', body)
      location.hash = `#/jobs/${job.id}`
    } catch (err) { setError(err) } finally { setBusy(false) }
  }

  return (
    <main class="page">
      <h1>Run a module</h1>
      <form onSubmit={e => { void submit(e) }} aria-label="Run a module">
        <label for="module">Module</label>
        <select id="module" value={choice} onChange={e => { onChoice((e.target as HTMLSelectElement).value) }}>
          {modules.map(m => <option value={m.ref}>{m.ref}</option>)}
          <option value={OTHER}>Another module (name:version or git reference)…</option>
        </select>
        {choice === OTHER && (
          <div class="row">
            <label for="module-ref" class="sr-only">Module reference</label>
            <input id="module-ref" placeholder="e.g. github.com/Lilypad-Tech/lilypad-module-cowsay:v0.0.4" value={otherRef} onInput={e => { setOtherRef((e.target as HTMLInputElement).value) }} />
            <button type="button" onClick={() => { void loadOther() }} disabled={otherRef.trim() === ''}>Load</button>
          </div>
        )}
        {module?.description !== undefined && <p class="muted">{module.description}</p>}
        {multichain(node) && <ChainSelect node={node} id="chain" label="Chain (where the job settles and your deposit there pays)" value={chainId} onChange={setChainId} />}
        {module !== undefined && (
          <fieldset>
            <legend>Inputs of {module.ref}</legend>
            {module.inputs.length === 0 && <p class="muted">This module declares no inputs.</p>}
            {module.inputs.map(i => (
              <div class="field">
                <label for={`input-${i.name}`}>{i.name}{i.required ? ' (required)' : ''}</label>
                <input id={`input-${i.name}`} name={i.name} required={i.required} value={values[i.name] ?? ''}
                  onInput={e => { const v = (e.target as HTMLInputElement).value; setValues(s => ({ ...s, [i.name]: v })) }} />
                {i.default !== undefined && <small class="muted">default: {i.default === '' ? '(empty)' : i.default}</small>}
              </div>
            ))}
          </fieldset>
        )}
        <details>
          <summary>Provider, price, audit</summary>
          <div class="field">
            <label for="target">Provider address (optional)</label>
            <input id="target" placeholder="0x…" pattern="^0x[0-9a-fA-F]{40}$" value={target} onInput={e => { setTarget((e.target as HTMLInputElement).value) }} />
          </div>
          <div class="field">
            <label for="max-price">Most you pay (LP, optional)</label>
            <input id="max-price" inputMode="decimal" pattern="^[0-9]+(\.[0-9]{1,18})?$" value={maxPrice} onInput={e => { setMaxPrice((e.target as HTMLInputElement).value) }} />
          </div>
          <div class="field">
            <label for="audit">Audit probability (0–1, optional)</label>
            <input id="audit" type="number" min="0" max="1" step="0.01" value={audit} onInput={e => { setAudit((e.target as HTMLInputElement).value) }} />
          </div>
          {!multichain(node) && <p class="muted">Chain: {chainLabel(node, node.chainId)} ({node.network})</p>}
        </details>
        {window.ethereum !== undefined && (
          <label class="check"><input type="checkbox" checked={useWallet} onChange={e => { setUseWallet((e.target as HTMLInputElement).checked) }} /> Sign with my browser wallet (it is the job creator; its deposit pays)</label>
        )}
        {error !== undefined && <ErrorBox error={error} />}
        <button type="submit" class="primary" disabled={busy || module === undefined}>{busy ? 'Submitting…' : 'Run'}</button>
      </form>
    </main>
  )
}
