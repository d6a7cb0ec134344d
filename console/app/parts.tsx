// Pieces the pages share.
import { ApiError, chainLabel, type NodeInfo } from './api.ts'

export function ErrorBox ({ error }: { error: unknown }) {
  const e = error as Error & { hint?: string }
  return (
    <div class="error" role="alert">
      <strong>{e instanceof ApiError ? e.name : 'Error'}</strong>: {e?.message ?? String(error)}
      {typeof e?.hint === 'string' && <div class="hint">{e.hint}</div>}
    </div>
  )
}

export function StateBadge ({ state }: { state: string }) {
  return <span class={`badge state-${state}`}>{state}</span>
}

/** The chain picker of a network of several chains: chains the node has not joined are shown, not offered. */
export function ChainSelect ({ node, id, label, value, onChange }: { node: NodeInfo, id: string, label: string, value: number | undefined, onChange: (chainId: number) => void }) {
  const chains = node.chains ?? []
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} value={value === undefined ? '' : String(value)} onChange={e => { onChange(Number((e.target as HTMLSelectElement).value)) }}>
        {chains.map(c => <option value={String(c.chainId)} disabled={!c.served}>{chainLabel(node, c.chainId)}{c.chainId === chains[0]?.chainId ? ' — the network\'s first' : ''}{c.served ? '' : ' — not joined now'}</option>)}
      </select>
    </div>
  )
}

export function Addr ({ value }: { value: string | undefined }) {
  if (value === undefined) return <span>–</span>
  return <code class="addr" title={value}>{value.slice(0, 8)}…{value.slice(-6)}</code>
}
