// Pieces the pages share.
import { ApiError } from './api.ts'

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

export function Addr ({ value }: { value: string | undefined }) {
  if (value === undefined) return <span>–</span>
  return <code class="addr" title={value}>{value.slice(0, 8)}…{value.slice(-6)}</code>
}
