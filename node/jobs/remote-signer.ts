// A job creator's key that is not the node's (a browser wallet): the node asks for each EIP-712 signature the job
// needs (its job offer, then each deal it proposes) as a `sign` event in the job's history and stream, and the
// wallet's answer comes back through the API. Every answer is checked to be the key's signature of exactly what
// was asked before the job goes on; no answer within the bound fails the job with a named error. The node never
// holds the key: a transaction the job creator must send (a challenge) is prepared here and sent by the wallet,
// which answers with its hash; the caller checks on chain what that transaction did.
import { randomBytes } from 'node:crypto'
import { AbstractSigner, TypedDataEncoder, getAddress, verifyTypedData, type Provider, type TypedDataDomain, type TypedDataField, type TransactionRequest } from 'ethers'

export class SignatureTimeoutError extends Error {
  static override name = 'SignatureTimeoutError'
  override name = 'SignatureTimeoutError'
  readonly hint = 'answer the wallet\'s signature request while the job waits (the console asks the browser wallet); run the job again'
}
export class SignatureRequestNotFoundError extends Error {
  static override name = 'SignatureRequestNotFoundError'
  override name = 'SignatureRequestNotFoundError'
  readonly hint = 'the job\'s `sign` events name the requests still open; an answered or expired one is gone'
}
export class SignatureMismatchError extends Error {
  static override name = 'SignatureMismatchError'
  override name = 'SignatureMismatchError'
  readonly hint = 'sign exactly the typed data of the request (eth_signTypedData_v4) with the job\'s wallet account'
}
export class RemoteSignerUnsupportedError extends Error {
  static override name = 'RemoteSignerUnsupportedError'
  override name = 'RemoteSignerUnsupportedError'
}

/** What the wallet is asked to sign: eth_signTypedData_v4's payload. */
export interface SignatureRequest { request: string, kind: string, account: string, typedData: Record<string, unknown> }
/** A transaction the wallet is asked to send (eth_sendTransaction's first parameter, with the chain it is for). */
export interface TransactionRequestToWallet { request: string, kind: string, account: string, transaction: { from: string, to: string, data: string, chainId: string } }

interface PendingBase { resolve: (answer: string) => void, reject: (e: Error) => void, timer: ReturnType<typeof setTimeout>, off: () => void }
type Pending =
  | PendingBase & { type: 'sign', domain: TypedDataDomain, types: Record<string, TypedDataField[]>, value: Record<string, unknown> }
  | PendingBase & { type: 'send' }

export interface AskOptions { signal?: AbortSignal, timeoutMs?: number }

export const DEFAULT_SIGNATURE_TIMEOUT_MS = 120_000

export class RemoteSigner extends AbstractSigner {
  readonly address: string
  readonly #ask: (r: SignatureRequest) => void
  readonly #timeoutMs: number
  readonly #pending = new Map<string, Pending>()

  readonly #askSend: (r: TransactionRequestToWallet) => void

  constructor (address: string, ask: (r: SignatureRequest) => void, opts: { timeoutMs?: number, askSend?: (r: TransactionRequestToWallet) => void } = {}) {
    super()
    this.address = getAddress(address.toLowerCase())
    this.#ask = ask
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_SIGNATURE_TIMEOUT_MS
    this.#askSend = opts.askSend ?? (() => { throw new RemoteSignerUnsupportedError('this wallet is asked for signatures only') })
  }

  override async getAddress (): Promise<string> { return this.address }
  override connect (_provider: Provider | null): RemoteSigner { throw new RemoteSignerUnsupportedError('a remote job creator\'s signer is not connected to a provider') }
  override async signTransaction (_tx: TransactionRequest): Promise<string> { throw new RemoteSignerUnsupportedError('a remote job creator sends no transactions through the node') }
  override async signMessage (_m: string | Uint8Array): Promise<string> { throw new RemoteSignerUnsupportedError('a remote job creator signs typed data only') }

  override async signTypedData (domain: TypedDataDomain, types: Record<string, TypedDataField[]>, value: Record<string, unknown>): Promise<string> {
    return await this.askSignature(domain, types, value)
  }

  /** signTypedData, ended early by `signal` (the request is withdrawn) and bounded by `timeoutMs` (default the signer's). */
  async askSignature (domain: TypedDataDomain, types: Record<string, TypedDataField[]>, value: Record<string, unknown>, opts: AskOptions = {}): Promise<string> {
    const typedData = TypedDataEncoder.getPayload(domain, types, value) as unknown as Record<string, unknown>
    const kind = String(typedData.primaryType)
    return await this.#open(`sign the ${kind}`, opts, (request, p) => {
      this.#pending.set(request, { ...p, type: 'sign', domain, types, value })
      this.#ask({ request, kind, account: this.address, typedData })
    })
  }

  /**
   * Asks the wallet to send `tx` (to, data) on chain `chainId`; resolves with the hash it answers. The caller
   * checks the transaction on chain: a hash is only what the wallet says it sent.
   */
  async askTransaction (kind: string, tx: { to: string, data: string, chainId: number }, opts: AskOptions = {}): Promise<string> {
    return await this.#open(`send the ${kind} transaction`, opts, (request, p) => {
      this.#pending.set(request, { ...p, type: 'send' })
      this.#askSend({ request, kind, account: this.address, transaction: { from: this.address, to: getAddress(tx.to), data: tx.data, chainId: `0x${tx.chainId.toString(16)}` } })
    })
  }

  async #open (what: string, opts: AskOptions, register: (request: string, p: PendingBase) => void): Promise<string> {
    opts.signal?.throwIfAborted()
    const request = randomBytes(8).toString('hex')
    const timeoutMs = opts.timeoutMs ?? this.#timeoutMs
    return await new Promise<string>((resolve, reject) => {
      const onAbort = (): void => { this.#withdraw(request, opts.signal?.reason instanceof Error ? opts.signal.reason : new Error('the request was withdrawn')) }
      const timer = setTimeout(() => {
        this.#withdraw(request, new SignatureTimeoutError(`the wallet ${this.address} did not ${what} within ${Math.round(timeoutMs / 1000)} s`))
      }, timeoutMs)
      opts.signal?.addEventListener('abort', onAbort, { once: true })
      register(request, { resolve, reject, timer, off: () => { opts.signal?.removeEventListener('abort', onAbort) } })
    })
  }

  #withdraw (request: string, reason: Error): void {
    const p = this.#pending.get(request)
    if (p === undefined) return
    this.#pending.delete(request)
    clearTimeout(p.timer)
    p.off()
    p.reject(reason)
  }

  /** The wallet's answer to `request`: checked, then handed to whoever waits for it. */
  answer (request: string, signature: string): void {
    const p = this.#pending.get(request)
    if (p?.type !== 'sign') throw new SignatureRequestNotFoundError(`no open signature request ${request.slice(0, 40)}`)
    let signer = ''
    try { signer = verifyTypedData(p.domain, p.types, p.value, signature) } catch { /* malformed: refused below */ }
    if (signer !== this.address) throw new SignatureMismatchError(`the signature is not ${this.address}'s of request ${request}`)
    this.#settle(request, p, signature)
  }

  /** The wallet's answer to a transaction request: the hash of what it sent (checked on chain by whoever asked). */
  answerTransaction (request: string, hash: string): void {
    const p = this.#pending.get(request)
    if (p?.type !== 'send') throw new SignatureRequestNotFoundError(`no open transaction request ${request.slice(0, 40)}`)
    this.#settle(request, p, hash.toLowerCase())
  }

  #settle (request: string, p: Pending, answer: string): void {
    clearTimeout(p.timer)
    p.off()
    this.#pending.delete(request)
    p.resolve(answer)
  }

  /** Refuses every open request (the job ended). */
  close (reason: Error): void {
    for (const id of [...this.#pending.keys()]) this.#withdraw(id, reason)
  }
}
