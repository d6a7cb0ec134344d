// The directory's signed record, as EIP-712 typed data under the Lilypad domain. It binds a libp2p peer id
// to an Ethereum address: the Ethereum key signs a record naming the peer id, and the peer's libp2p key
// signs the record's digest (see record.ts), so neither key can claim the other without its consent.
import type { Signer } from 'ethers'
import { recoverTypedData, typedDataHash } from '../signatures.ts'
import { domainOf, type LilypadDomain } from '../eip712.ts'

export const NodeRecordTypes = {
  NodeRecord: [
    { name: 'peerId', type: 'string' },
    { name: 'multiaddrs', type: 'string[]' },
    { name: 'roles', type: 'string[]' },
    { name: 'ethAddress', type: 'address' },
    { name: 'seq', type: 'uint64' },
    { name: 'expiry', type: 'uint64' }
  ]
}

export interface NodeRecord {
  peerId: string
  multiaddrs: string[]
  roles: string[]
  ethAddress: string
  seq: bigint
  expiry: bigint
}

function types (): Record<string, Array<{ name: string, type: string }>> {
  return { NodeRecord: NodeRecordTypes.NodeRecord.map(f => ({ ...f })) }
}

export function nodeRecordDigest (domain: LilypadDomain, r: NodeRecord): string {
  return typedDataHash(domainOf(domain), types(), r as unknown as Record<string, unknown>)
}

export async function signNodeRecord (domain: LilypadDomain, r: NodeRecord, signer: Signer): Promise<string> {
  return await signer.signTypedData(domainOf(domain), types(), r as unknown as Record<string, unknown>)
}

export function recoverNodeRecordSigner (domain: LilypadDomain, r: NodeRecord, signature: string): string {
  return recoverTypedData(domainOf(domain), types(), r as unknown as Record<string, unknown>, signature)
}
