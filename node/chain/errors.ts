// Named chain errors: callers branch on err.name.
import type { ErrorDescription } from 'ethers'
import { allInterfaces } from '../../contracts/generated/index.ts'

export class RpcUnreachableError extends Error {
  static override name = 'RpcUnreachableError'
  override name = 'RpcUnreachableError'
  readonly rpcUrl: string
  readonly attempts: number
  constructor (rpcUrl: string, attempts: number, cause: unknown) {
    super(`RPC ${rpcUrl} unreachable after ${attempts} attempt(s): ${(cause as Error)?.message ?? String(cause)}`, { cause })
    this.rpcUrl = rpcUrl
    this.attempts = attempts
  }
}

export class RpcTimeoutError extends Error {
  static override name = 'RpcTimeoutError'
  override name = 'RpcTimeoutError'
  readonly rpcUrl: string
  constructor (rpcUrl: string, attempts: number, cause: unknown) {
    super(`RPC ${rpcUrl} timed out after ${attempts} attempt(s)`, { cause })
    this.rpcUrl = rpcUrl
  }
}

/** A chain of the network the node has not joined yet (its RPC down, or serving another chain, at start): tried again. */
export class ChainUnavailableError extends Error {
  static override name = 'ChainUnavailableError'
  override name = 'ChainUnavailableError'
  readonly chainId: number
  readonly hint = 'the node tries again on its own (2 s, doubling to 60 s); try once the chain\'s RPC answers'
  constructor (chainId: number, cause: Error | undefined) {
    super(`the node has not joined chain ${chainId} yet${cause !== undefined ? `: ${cause.message}` : ''}`, { cause })
    this.chainId = chainId
  }
}

export class WrongChainError extends Error {
  static override name = 'WrongChainError'
  override name = 'WrongChainError'
  readonly expected: number
  readonly actual: number
  constructor (expected: number, actual: number) {
    super(`RPC serves chain ${actual}, the network file expects ${expected}`)
    this.expected = expected
    this.actual = actual
  }
}

/** A transaction or call reverted; `reason` is the contract's custom error name (e.g. 'NotSelectedMediator'). */
export class ContractRevertError extends Error {
  static override name = 'ContractRevertError'
  override name = 'ContractRevertError'
  readonly reason: string
  readonly args: unknown[]
  readonly what: string
  constructor (what: string, reason: string, args: unknown[], cause?: unknown) {
    super(`${what} reverted: ${reason}(${args.map(a => String(a)).join(', ')})`, { cause })
    this.reason = reason
    this.args = args
    this.what = what
  }
}

const errorInterfaces = Object.values(allInterfaces)

/** The custom error a revert payload encodes, searched across every generated contract ABI. */
export function decodeRevert (data: string | undefined | null): { name: string, args: unknown[] } | null {
  if (data == null || data.length < 10) return null
  for (const iface of errorInterfaces) {
    let parsed: ErrorDescription | null = null
    // a selector no contract of ours defines throws here: try the next ABI
    try { parsed = iface.parseError(data) } catch { parsed = null }
    if (parsed != null) return { name: parsed.name, args: [...parsed.args] }
  }
  return null
}

/** Finds revert data in the shapes ethers and JSON-RPC nodes wrap it in. */
export function revertDataOf (err: unknown): string | undefined {
  const seen = new Set<unknown>()
  const walk = (e: unknown): string | undefined => {
    if (e == null || typeof e !== 'object' || seen.has(e)) return undefined
    seen.add(e)
    const o = e as Record<string, unknown>
    if (typeof o.data === 'string' && o.data.startsWith('0x') && o.data.length >= 10) return o.data
    for (const k of ['data', 'error', 'info', 'cause', 'revert']) {
      const found = walk(o[k])
      if (found !== undefined) return found
    }
    return undefined
  }
  return walk(err)
}

const TRANSIENT = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT'])

/** 'unreachable' and 'timeout' are worth retrying; anything else (a revert, a bad request) is not. */
export function transientKind (err: unknown): 'unreachable' | 'timeout' | null {
  const seen = new Set<unknown>()
  const walk = (e: unknown): 'unreachable' | 'timeout' | null => {
    if (e == null || typeof e !== 'object' || seen.has(e)) return null
    seen.add(e)
    const o = e as Record<string, unknown>
    if (o.code === 'TIMEOUT') return 'timeout'
    if (typeof o.code === 'string' && TRANSIENT.has(o.code)) return o.code === 'ETIMEDOUT' ? 'timeout' : 'unreachable'
    if (o.code === 'SERVER_ERROR' && o.response == null) return 'unreachable'
    return walk(o.cause) ?? walk(o.error) ?? walk(o.info)
  }
  return walk(err)
}
