// Wallet: the node's key (on the devnet a well-known test key) with its LP in the wallet, in the Market deposit
// and locked in open deals, and deposit/withdraw through the node; and a browser wallet (EIP-1193, e.g.
// MetaMask): the node prepares an ERC-2612 permit, the browser wallet signs it (eth_signTypedData_v4) and sends
// the deposit transaction itself, so that key never leaves the browser. On a network of several chains the node's
// balances are shown for each chain, and deposits and withdrawals go to the chain picked.
import { useEffect, useState } from 'preact/hooks'
import { chainLabel, get, multichain, post, type Balance, type Balances, type NodeInfo } from './api.ts'
import { ChainSelect, ErrorBox } from './parts.tsx'
import './eip1193.ts'

/** the chain a request names: none on a one-chain network (its API is as it was) */
const on = (node: NodeInfo, chainId: number | undefined): Record<string, number> => multichain(node) && chainId !== undefined ? { chain: chainId } : {}

/** The node's balances on each chain of the network, a row per chain (one that cannot be read shows why). */
function ChainBalances ({ node, tick }: { node: NodeInfo, tick: number }) {
  const [b, setB] = useState<Balances | undefined>()
  const [error, setError] = useState<unknown>()
  useEffect(() => { get<Balances>('/v1/balances').then(setB, setError) }, [tick])
  if (error !== undefined) return <ErrorBox error={error} />
  if (b === undefined) return <p role="status">Loading…</p>
  return (
    <div class="table-wrap">
      <table aria-label="The node's balances on each chain">
        <thead><tr><th scope="col">Chain</th><th scope="col">Wallet</th><th scope="col">Deposit</th><th scope="col">Locked in open deals</th></tr></thead>
        <tbody>
          {b.chains.map(c => (
            <tr data-chain={c.chainId}>
              <td>{chainLabel(node, c.chainId)}</td>
              {c.error !== undefined
                ? <td colSpan={3} class="error">{c.error.name}: {c.error.message}</td>
                : <><td data-field="wallet">{c.wallet?.lp} LP</td><td data-field="deposit">{c.deposit?.lp} LP</td><td data-field="locked">{c.locked?.lp} LP</td></>}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}


function Amounts ({ b, label }: { b: Balance, label: string }) {
  return (
    <dl class="facts" aria-label={label}>
      <dt>Address</dt><dd><code class="cid">{b.address}</code></dd>
      <dt>Wallet</dt><dd data-field="wallet">{b.wallet.lp} LP</dd>
      <dt>Deposit</dt><dd data-field="deposit">{b.deposit.lp} LP</dd>
      <dt>Locked in open deals</dt><dd data-field="locked">{b.locked.lp} LP</dd>
    </dl>
  )
}

function AmountForm ({ id, label, action, onSubmit }: { id: string, label: string, action: string, onSubmit: (amount: string) => Promise<void> }) {
  const [value, setValue] = useState('')
  const [busy, setBusy] = useState(false)
  return (
    <form class="row" onSubmit={e => { e.preventDefault(); setBusy(true); onSubmit(value.trim()).finally(() => { setBusy(false) }) }}>
      <label for={id}>{label}</label>
      <input id={id} inputMode="decimal" required pattern="^[0-9]+(\.[0-9]{1,18})?$" placeholder="LP" value={value} onInput={e => { setValue((e.target as HTMLInputElement).value) }} />
      <button type="submit" disabled={busy}>{busy ? '…' : action}</button>
    </form>
  )
}

function NodeWallet ({ node, chainId }: { node: NodeInfo, chainId: number | undefined }) {
  const [b, setB] = useState<Balance | undefined>()
  const [error, setError] = useState<unknown>()
  const [tick, setTick] = useState(0)
  const several = multichain(node)
  useEffect(() => { if (!several) get<Balance>('/v1/balance').then(setB, setError) }, [tick])
  const act = (path: string) => async (amount: string): Promise<void> => {
    setError(undefined)
    try { setB(await post<Balance>(path, { amount, ...on(node, chainId) })); setTick(n => n + 1) } catch (e) { setError(e) }
  }
  return (
    <section aria-labelledby="node-wallet-h" class="card">
      <h2 id="node-wallet-h">This node's key</h2>
      {node.devnet && <p class="muted">On the devnet the node signs with one of anvil's well-known test keys: jobs, deposits and withdrawals from this console use it.</p>}
      {!node.devnet && <p class="muted">Jobs run from this console are signed by the node's key (job offers and deals); its deposit pays for them.</p>}
      {!several && b !== undefined && <Amounts b={b} label="The node's balances" />}
      {several && <><p>Address <code class="cid">{node.address}</code></p><ChainBalances node={node} tick={tick} /></>}
      {error !== undefined && <ErrorBox error={error} />}
      <AmountForm id="node-deposit" label={several ? `Deposit on ${chainLabel(node, chainId)}` : 'Deposit'} action="Deposit" onSubmit={act('/v1/deposit')} />
      <AmountForm id="node-withdraw" label={several ? `Withdraw on ${chainLabel(node, chainId)}` : 'Withdraw'} action="Withdraw" onSubmit={act('/v1/withdraw')} />
      <button type="button" onClick={() => { setTick(n => n + 1) }}>Refresh</button>
    </section>
  )
}

function BrowserWallet ({ node, chainId }: { node: NodeInfo, chainId: number | undefined }) {
  const eth = window.ethereum
  const [account, setAccount] = useState<string | undefined>()
  const [chain, setChain] = useState<number | undefined>()
  const [b, setB] = useState<Balance | undefined>()
  const [status, setStatus] = useState('')
  const [error, setError] = useState<unknown>()
  const chainQuery = multichain(node) && chainId !== undefined ? `&chain=${chainId}` : ''
  const refresh = async (a: string): Promise<Balance> => { const x = await get<Balance>(`/v1/balance?address=${a}${chainQuery}`); setB(x); return x }
  useEffect(() => { if (account !== undefined) refresh(account).catch(setError) }, [chainId])

  async function connect (): Promise<void> {
    if (eth === undefined) return
    setError(undefined)
    try {
      const accounts = await eth.request({ method: 'eth_requestAccounts' }) as string[]
      const id = Number(await eth.request({ method: 'eth_chainId' }))
      setChain(id)
      if (accounts[0] === undefined) throw new Error('the wallet gave no account')
      setAccount(accounts[0])
      await refresh(accounts[0])
    } catch (e) { setError(e) }
  }

  async function deposit (amount: string): Promise<void> {
    if (eth === undefined || account === undefined) return
    setError(undefined)
    try {
      if (chainId !== undefined && chain !== chainId) {
        setStatus(`switching the wallet to chain ${chainId}…`)
        await eth.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: `0x${chainId.toString(16)}` }] })
        setChain(chainId)
      }
      setStatus('preparing the permit…')
      const permit = await post<{ typedData: unknown, deadline: string }>('/v1/wallet/permit', { owner: account, amount, ...on(node, chainId) })
      setStatus('sign the permit in your wallet…')
      const signature = await eth.request({ method: 'eth_signTypedData_v4', params: [account, JSON.stringify(permit.typedData)] }) as string
      const tx = await post<{ to: string, data: string }>('/v1/wallet/deposit-tx', { owner: account, amount, deadline: permit.deadline, signature, ...on(node, chainId) })
      setStatus('confirm the transaction in your wallet…')
      const hash = await eth.request({ method: 'eth_sendTransaction', params: [{ from: account, to: tx.to, data: tx.data }] }) as string
      setStatus(`sent ${hash}; waiting for it to be mined…`)
      const before = b?.deposit.wei
      for (let i = 0; i < 60; i++) {
        const now = await refresh(account)
        if (now.deposit.wei !== before) { setStatus(`deposited ${amount} LP (transaction ${hash})`); return }
        await new Promise(resolve => setTimeout(resolve, 1000))
      }
      setStatus(`transaction ${hash} sent; the deposit has not changed yet`)
    } catch (e) { setStatus(''); setError(e) }
  }

  return (
    <section aria-labelledby="browser-wallet-h" class="card">
      <h2 id="browser-wallet-h">Browser wallet</h2>
      {eth === undefined
        ? <p class="muted">No browser wallet (EIP-1193, e.g. MetaMask) in this browser.</p>
        : account === undefined
          ? <button type="button" onClick={() => { void connect() }}>Connect wallet</button>
          : <>
              <p>Connected: <code class="cid" id="browser-account">{account}</code> on chain {chain}{chainId !== undefined && chain !== chainId ? ` (deposits go to chain ${chainId}: the wallet is switched to it)` : ''}</p>
              {b !== undefined && <Amounts b={b} label="The browser wallet's balances" />}
              <AmountForm id="browser-deposit" label="Deposit from this wallet" action="Sign and deposit" onSubmit={deposit} />
            </>}
      {status !== '' && <p role="status" class="note" id="browser-status">{status}</p>}
      {error !== undefined && <ErrorBox error={error} />}
    </section>
  )
}

export function WalletPage ({ node }: { node: NodeInfo }) {
  const [chainId, setChainId] = useState<number | undefined>(node.chainId)
  return (
    <main class="page">
      <h1>Wallet</h1>
      {multichain(node) && <ChainSelect node={node} id="wallet-chain" label="Chain for deposits and withdrawals" value={chainId} onChange={setChainId} />}
      <div class="cards">
        <NodeWallet node={node} chainId={chainId} />
        <BrowserWallet node={node} chainId={chainId} />
      </div>
    </main>
  )
}
