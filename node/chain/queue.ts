// One writer per key: every transaction of a signer goes through its TxQueue, which owns the nonce. Sends are
// serialised up to the broadcast (so concurrent callers get consecutive nonces) and confirmations are awaited in
// parallel. A send that fails before broadcast (e.g. it would revert) consumes no nonce, so it cannot wedge the
// queue; a nonce the node disagrees with is re-read from the chain.
import type { ContractTransaction, Provider, TransactionReceipt, TransactionRequest, Wallet } from 'ethers'
import { ContractRevertError, decodeRevert, revertDataOf } from './errors.ts'
import type { LilypadMetrics } from '../observability/metrics.ts'

export class TxNotMinedError extends Error {
  static override name = 'TxNotMinedError'
  override name = 'TxNotMinedError'
  readonly hash: string
  constructor (hash: string, ms: number) {
    super(`transaction ${hash} not mined within ${ms} ms`)
    this.hash = hash
  }
}

/**
 * Polls eth_getTransactionReceipt with a short, growing interval. On an automining devnet ethers' own wait() can
 * miss the one block that carries the transaction (it subscribes to new blocks after its first check) and then
 * waits forever, since no further block comes.
 */
export async function waitForReceipt (provider: Provider, hash: string, opts: { pollIntervalMs?: number, timeoutMs?: number } = {}): Promise<TransactionReceipt> {
  const giveUpAt = Date.now() + (opts.timeoutMs ?? 120_000)
  for (let delay = 5; ; delay = Math.min(delay * 2, opts.pollIntervalMs ?? 250)) {
    const receipt = await provider.getTransactionReceipt(hash)
    if (receipt != null) return receipt
    if (Date.now() > giveUpAt) throw new TxNotMinedError(hash, opts.timeoutMs ?? 120_000)
    await new Promise(resolve => setTimeout(resolve, delay))
  }
}

/**
 * The gas limit sent for an estimate. eth_estimateGas runs the call on the pending block, but the transaction runs
 * in the block that includes it, whose state differs (a submission's audit draw that the estimate saw in the
 * submission's own block, or past its 256 hashed blocks, takes another path; so does a batch whose deals another
 * transaction moved first), and at the bare estimate a dearer path runs out of gas and reverts. Unused gas is refunded,
 * so the headroom costs nothing.
 */
export function withHeadroom (estimate: bigint): bigint {
  return estimate + estimate / 4n + 10_000n
}

export interface GasEntry { what: string, hash: string, gasUsed: bigint, blockNumber: number }

/**
 * The newest receipts a gas log keeps (~250 bytes each). Before this bound every transaction a node ever sent stayed
 * in memory (issue 20: the 2-hour soak's heap snapshots showed a provider's log at 1,466 entries and growing).
 */
export const GAS_LOG_MAX = 10_000

export interface QueuedSendOptions {
  /** Skip estimation and use this limit. */
  gasLimit?: bigint
}

export class TxQueue {
  readonly wallet: Wallet
  readonly gasLog: GasEntry[]
  #nonce: number | undefined
  #tail: Promise<unknown> = Promise.resolve()
  #chainId: bigint | undefined

  readonly pollIntervalMs: number
  readonly receiptTimeoutMs: number
  readonly #metrics: LilypadMetrics | undefined
  readonly #onMined: (() => void) | undefined
  readonly #gasLogMax: number

  constructor (wallet: Wallet, gasLog: GasEntry[] = [], opts: { pollIntervalMs?: number, receiptTimeoutMs?: number, metrics?: LilypadMetrics, onMined?: () => void, gasLogMax?: number } = {}) {
    this.pollIntervalMs = opts.pollIntervalMs ?? 250
    this.receiptTimeoutMs = opts.receiptTimeoutMs ?? 120_000
    this.#metrics = opts.metrics
    this.#onMined = opts.onMined
    this.#gasLogMax = opts.gasLogMax ?? GAS_LOG_MAX
    if (wallet.provider == null) throw new TypeError('TxQueue needs a wallet connected to a provider')
    this.wallet = wallet
    this.gasLog = gasLog
  }

  get address (): string { return this.wallet.address }

  /** Queues the transaction, waits for it to be mined and returns the receipt; reverts become ContractRevertError. */
  async send (what: string, build: () => Promise<ContractTransaction | TransactionRequest>, opts: QueuedSendOptions = {}): Promise<TransactionReceipt> {
    const method = what.replace(/\(.*$/, '').replace(/ .*$/, '')
    let receipt: TransactionReceipt
    let request: TransactionRequest
    try {
      const broadcast = this.#serialised(async () => await this.#broadcast(what, build, opts))
      const sent = await broadcast
      request = sent.request
      receipt = await this.#receiptOf(sent.hash)
    } catch (err) {
      this.#metrics?.chainTxs.inc({ method, outcome: err instanceof ContractRevertError ? 'reverted' : 'failed' })
      throw err
    }
    const provider = this.wallet.provider!
    const hash = receipt.hash
    this.gasLog.push({ what, hash, gasUsed: receipt.gasUsed, blockNumber: receipt.blockNumber })
    // in place: the client and this queue share the array
    if (this.gasLog.length > this.#gasLogMax) this.gasLog.splice(0, this.gasLog.length - this.#gasLogMax)
    this.#metrics?.chainGas.inc({ method }, Number(receipt.gasUsed))
    this.#onMined?.()
    if (receipt.status !== 1) {
      this.#metrics?.chainTxs.inc({ method, outcome: 'reverted' })
      // Mined but reverted (state changed between estimate and inclusion): replay it to learn the reason.
      let reason: { name: string, args: unknown[] } | null = null
      try {
        await provider.call({ ...request, blockTag: receipt.blockNumber - 1 })
      } catch (err) {
        reason = decodeRevert(revertDataOf(err))
      }
      throw new ContractRevertError(what, reason?.name ?? 'Reverted', reason?.args ?? [])
    }
    this.#metrics?.chainTxs.inc({ method, outcome: 'mined' })
    return receipt
  }

  async #receiptOf (hash: string): Promise<TransactionReceipt> {
    try {
      return await waitForReceipt(this.wallet.provider!, hash, { pollIntervalMs: this.pollIntervalMs, timeoutMs: this.receiptTimeoutMs })
    } catch (err) {
      this.#nonce = undefined // whatever happened to it, re-read the nonce before the next send
      throw err
    }
  }

  #serialised<T> (job: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(job, job)
    // the next send waits for this one to finish, not to succeed: its caller gets the error
    this.#tail = run.catch(() => undefined)
    return run
  }

  async #broadcast (what: string, build: () => Promise<ContractTransaction | TransactionRequest>, opts: QueuedSendOptions): Promise<{ hash: string, request: TransactionRequest }> {
    const provider = this.wallet.provider!
    const tx = await build()
    for (let attempt = 0; ; attempt++) {
      this.#nonce ??= await provider.getTransactionCount(this.wallet.address, 'pending')
      this.#chainId ??= (await provider.getNetwork()).chainId
      const request: TransactionRequest = { ...tx, from: this.wallet.address, nonce: this.#nonce, chainId: this.#chainId }
      try {
        request.gasLimit = opts.gasLimit ?? withHeadroom(await provider.estimateGas(request))
      } catch (err) {
        const decoded = decodeRevert(revertDataOf(err))
        if (decoded != null) throw new ContractRevertError(what, decoded.name, decoded.args, err)
        if (isCallException(err)) throw new ContractRevertError(what, 'Reverted', [], err)
        throw err
      }
      const signed = await this.wallet.signTransaction(await this.wallet.populateTransaction(request))
      try {
        const response = await provider.broadcastTransaction(signed)
        this.#nonce++
        return { hash: response.hash, request }
      } catch (err) {
        if (isNonceProblem(err) && attempt === 0) {
          this.#nonce = undefined
          continue
        }
        this.#nonce = undefined // unknown whether it went out: re-read before the next send
        throw err
      }
    }
  }
}

function isCallException (err: unknown): boolean {
  return (err as { code?: string })?.code === 'CALL_EXCEPTION'
}

function isNonceProblem (err: unknown): boolean {
  const e = err as { code?: string, message?: string }
  return e?.code === 'NONCE_EXPIRED' || /nonce (too low|has already been used)/i.test(e?.message ?? '')
}
