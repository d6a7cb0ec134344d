// A job creator's key that is not the node's (a browser wallet): the node asks for each EIP-712 signature the job
// needs (its job offer, then each deal it proposes) as a `sign` event in the job's history and stream, and the
// wallet's answer comes back through the API. Every answer is checked to be the key's signature of exactly what
// was asked before the job goes on; no answer within the bound fails the job with a named error. It signs
// nothing else: no transaction goes through the node for this key.
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

interface Pending { domain: TypedDataDomain, types: Record<string, TypedDataField[]>, value: Record<string, unknown>, resolve: (sig: string) => void, reject: (e: Error) => void, timer: ReturnType<typeof setTimeout> }

export const DEFAULT_SIGNATURE_TIMEOUT_MS = 120_000

export class RemoteSigner extends AbstractSigner {
  readonly address: string
  readonly #ask: (r: SignatureRequest) => void
  readonly #timeoutMs: number
  readonly #pending = new Map<string, Pending>()

  constructor (address: string, ask: (r: SignatureRequest) => void, opts: { timeoutMs?: number } = {}) {
    super()
    this.address = getAddress(address.toLowerCase())
    this.#ask = ask
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_SIGNATURE_TIMEOUT_MS
  }

  override async getAddress (): Promise<string> { return this.address }
  override connect (_provider: Provider | null): RemoteSigner { throw new RemoteSignerUnsupportedError('a remote job creator\'s signer is not connected to a provider') }
  override async signTransaction (_tx: TransactionRequest): Promise<string> { throw new RemoteSignerUnsupportedError('a remote job creator sends no transactions through the node') }
  override async signMessage (_m: string | Uint8Array): Promise<string> { throw new RemoteSignerUnsupportedError('a remote job creator signs typed data only') }

  override async signTypedData (domain: TypedDataDomain, types: Record<string, TypedDataField[]>, value: Record<string, unknown>): Promise<string> {
    const request = randomBytes(8).toString('hex')
    const typedData = TypedDataEncoder.getPayload(domain, types, value) as unknown as Record<string, unknown>
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(request)
        reject(new SignatureTimeoutError(`the wallet ${this.address} did not sign the ${String(typedData.primaryType)} within ${Math.round(this.#timeoutMs / 1000)} s`))
      }, this.#timeoutMs)
      this.#pending.set(request, { domain, types, value, resolve, reject, timer })
      this.#ask({ request, kind: String(typedData.primaryType), account: this.address, typedData })
    })
  }

  /** The wallet's answer to `request`: checked, then handed to whoever waits for it. */
  answer (request: string, signature: string): void {
    const p = this.#pending.get(request)
    if (p === undefined) throw new SignatureRequestNotFoundError(`no open signature request ${request.slice(0, 40)}`)
    let signer = ''
    try { signer = verifyTypedData(p.domain, p.types, p.value, signature) } catch { /* malformed: refused below */ }
    if (signer !== this.address) throw new SignatureMismatchError(`the signature is not ${this.address}'s of request ${request}`)
    clearTimeout(p.timer)
    this.#pending.delete(request)
    p.resolve(signature)
  }

  /** Refuses every open request (the job ended). */
  close (reason: Error): void {
    for (const [id, p] of this.#pending) { clearTimeout(p.timer); this.#pending.delete(id); p.reject(reason) }
  }
}
