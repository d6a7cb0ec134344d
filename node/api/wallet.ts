// Deposits from a browser wallet (EIP-1193): the node prepares the LP token's ERC-2612 permit for the wallet's
// address, the wallet signs it (eth_signTypedData_v4), the node checks the signature and encodes the Market's
// depositWithPermit call, and the wallet sends that transaction itself. The node never holds the wallet's key
// and signs nothing here; it only reads the chain.
import { Signature, getAddress, verifyTypedData } from 'ethers'
import { PERMIT_TYPES, permitDomain, type ChainClient } from '../chain/index.ts'
import type { NetworkFile } from '../config/network.ts'
import { formatLP } from '../../core/lp.ts'
import { ApiError } from './errors.ts'

/** a permit is good for this long (chain time) */
export const PERMIT_TTL_SEC = 3600

export interface PermitRequest { owner: string, value: bigint }

export async function permitFor (chain: ChainClient, network: Pick<NetworkFile, 'chainId' | 'contracts'>, r: PermitRequest): Promise<{ typedData: Record<string, unknown>, deadline: string }> {
  const owner = getAddress(r.owner.toLowerCase())
  const have = await chain.tokenBalance(owner)
  if (have < r.value) throw new ApiError(409, 'InsufficientBalanceError', `depositing ${formatLP(r.value)} LP: ${owner} holds ${formatLP(have)} LP`, 'get LP with "lilypad faucet --address <you>" (on a test network) or send some to this address')
  const [nonce, latest] = await Promise.all([chain.token.nonces(owner), chain.provider.getBlock('latest')])
  // chain time, as the node's own deposits: a devnet whose clock was moved forward would see a wall-clock deadline past
  const deadline = BigInt((latest?.timestamp ?? Math.floor(Date.now() / 1000)) + PERMIT_TTL_SEC)
  return {
    deadline: deadline.toString(),
    typedData: {
      types: { EIP712Domain: [{ name: 'name', type: 'string' }, { name: 'version', type: 'string' }, { name: 'chainId', type: 'uint256' }, { name: 'verifyingContract', type: 'address' }], ...PERMIT_TYPES },
      domain: permitDomain(network),
      primaryType: 'Permit',
      message: { owner, spender: network.contracts.market, value: r.value.toString(), nonce: nonce.toString(), deadline: deadline.toString() }
    }
  }
}

export interface DepositTxRequest { owner: string, value: bigint, deadline: bigint, signature: string }

/** The depositWithPermit transaction for the wallet to send, once the permit's signature is the owner's. */
export async function depositTx (chain: ChainClient, network: Pick<NetworkFile, 'chainId' | 'contracts'>, r: DepositTxRequest): Promise<{ to: string, data: string, chainId: number }> {
  const owner = getAddress(r.owner.toLowerCase())
  let sig: Signature
  try { sig = Signature.from(r.signature) } catch { throw new ApiError(400, 'PermitSignatureError', 'the signature is not a 65-byte ECDSA signature', 'sign the typed data POST /v1/wallet/permit returned with eth_signTypedData_v4') }
  const nonce = await chain.token.nonces(owner)
  const message = { owner, spender: network.contracts.market, value: r.value, nonce, deadline: r.deadline }
  let signer: string
  try { signer = verifyTypedData(permitDomain(network), PERMIT_TYPES, message, sig) } catch { signer = '' }
  if (signer !== owner) throw new ApiError(400, 'PermitSignatureError', `the permit is not signed by ${owner} for ${formatLP(r.value)} LP (nonce ${nonce}, deadline ${r.deadline})`, 'ask POST /v1/wallet/permit again and sign exactly what it returns, with the same account')
  const tx = await chain.market.depositWithPermit.populateTransaction(r.value, r.deadline, sig.v, sig.r, sig.s)
  return { to: network.contracts.market, data: tx.data, chainId: network.chainId }
}
