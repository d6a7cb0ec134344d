// EIP-712 definitions shared by the wire protocol and the Market contract.
// Every signed Lilypad message is EIP-712 typed data under one domain bound to the chain id and the Market
// contract, so a signature is valid on exactly one network and the contract can verify it. A message's id is
// its EIP-712 digest (domain-bound), so the same deal on two networks has two different ids.
import { TypedDataEncoder, getAddress, type Signer, type TypedDataDomain } from 'ethers'
import { recoverTypedData, typedDataHash } from './signatures.ts'

export const DOMAIN_NAME = 'Lilypad'
export const DOMAIN_VERSION = '1'

export interface LilypadDomain {
  chainId: bigint
  verifyingContract: string // the Market contract
}

export function domainOf (d: LilypadDomain): TypedDataDomain {
  return { name: DOMAIN_NAME, version: DOMAIN_VERSION, chainId: d.chainId, verifyingContract: getAddress(d.verifyingContract) }
}

// Solidity type strings, in EIP-712 order. Keep in sync with contracts/src/LilypadTypes.sol (a test checks
// the contract's type hashes against these).
export const MachineSpecFields = [
  { name: 'cpu', type: 'uint32' }, // millicores
  { name: 'ramMb', type: 'uint32' },
  { name: 'diskMb', type: 'uint32' },
  { name: 'gpus', type: 'uint16' }, // count
  { name: 'gpuVramMb', type: 'uint32' }, // VRAM of each GPU, MiB (required: at least; offered: the smallest of the slot's)
  { name: 'gpuModel', type: 'string' }, // required: '' = any, else matched by name tokens; offered: the slot's model
  { name: 'cudaVersion', type: 'uint32' } // NVML encoding (13.0 → 13000); required: at least; offered: the driver's
] as const

export const ResourceOfferTypes = {
  ResourceOffer: [
    { name: 'provider', type: 'address' },
    { name: 'slot', type: 'uint32' }, // capacity slot on the provider's machine
    { name: 'spec', type: 'MachineSpec' },
    { name: 'modules', type: 'string[]' }, // module names served; empty = all
    { name: 'price', type: 'uint96' }, // LP wei per job
    { name: 'collateral', type: 'uint96' }, // LP wei the provider locks per deal
    { name: 'mediators', type: 'address[]' }, // accepted mediators
    { name: 'expiry', type: 'uint64' }, // unix seconds
    { name: 'nonce', type: 'uint64' },
    // keccak256(secret): the provider's share of a committee dispute's seed, revealed only in a dispute
    // (Market.revealSeed; docs/mediation.md, "Unbiasable draws"). Last, so a reveal passes the words before it.
    { name: 'seedCommit', type: 'bytes32' }
  ],
  MachineSpec: [...MachineSpecFields]
}

export const JobOfferTypes = {
  JobOffer: [
    { name: 'jobCreator', type: 'address' },
    { name: 'module', type: 'string' }, // pinned module reference
    { name: 'inputs', type: 'string' }, // canonical JSON of the inputs map
    { name: 'spec', type: 'MachineSpec' }, // required resources
    { name: 'maxPrice', type: 'uint96' },
    { name: 'mediators', type: 'address[]' },
    { name: 'target', type: 'address' }, // zero address = any provider
    { name: 'timeout', type: 'uint32' }, // execution seconds
    { name: 'auditPpm', type: 'uint32' }, // random-audit probability, parts per million
    { name: 'expiry', type: 'uint64' },
    { name: 'nonce', type: 'uint64' },
    { name: 'seedCommit', type: 'bytes32' } // keccak256(secret): the job creator's share of a dispute's seed
  ],
  MachineSpec: [...MachineSpecFields]
}

// The deal both sides sign; the Market's agree() verifies both signatures over exactly this struct.
export const DealTypes = {
  Deal: [
    { name: 'jobOfferId', type: 'bytes32' },
    { name: 'resourceOfferId', type: 'bytes32' },
    { name: 'jobCreator', type: 'address' },
    { name: 'resourceProvider', type: 'address' },
    { name: 'mediators', type: 'address[]' }, // both sides' common mediators, ascending
    { name: 'price', type: 'uint96' }, // paid by the job creator to the provider
    { name: 'collateral', type: 'uint96' }, // locked by the provider; must be >= mediationFee
    { name: 'mediationFee', type: 'uint96' }, // locked by the job creator; pays the mediator if mediated
    { name: 'auditPpm', type: 'uint32' }, // probability of a random audit of the submission (drawn from its block's hash)
    { name: 'resultTimeout', type: 'uint32' }, // seconds from agreement for the provider to submit the result
    { name: 'judgeWindow', type: 'uint32' }, // seconds from result to accept or challenge
    { name: 'mediateTimeout', type: 'uint32' }, // seconds for the selected mediator's verdict
    { name: 'expiry', type: 'uint64' }, // agree() refused after this
    { name: 'nonce', type: 'uint64' } // the job creator's; refused if reused
  ]
}

// Sent by the provider to the job creator over a stream; the chain records only the CID's hash.
export const ResultTypes = {
  Result: [
    { name: 'dealId', type: 'bytes32' },
    { name: 'resultCid', type: 'string' },
    { name: 'exitCode', type: 'int32' },
    { name: 'timestamp', type: 'uint64' }
  ]
}

// The job creator's acceptance of one deal's result, given off chain: the provider puts it on chain with the result
// (Market.submitAcceptedResult), which settles the deal at once. The deal id binds the chain and the Market too.
export const AcceptTypes = {
  Accept: [
    { name: 'dealId', type: 'bytes32' },
    { name: 'resultCid', type: 'string' }
  ]
}

export interface MachineSpec { cpu: number, ramMb: number, diskMb: number, gpus: number, gpuVramMb: number, gpuModel: string, cudaVersion: number }

export interface ResourceOffer {
  provider: string
  slot: number
  spec: MachineSpec
  modules: string[]
  price: bigint
  collateral: bigint
  mediators: string[]
  expiry: bigint
  nonce: bigint
  /** keccak256(secret), 0x-hex (protocols/settlement/seed.ts) */
  seedCommit: string
}

export interface JobOffer {
  jobCreator: string
  module: string
  inputs: string
  spec: MachineSpec
  maxPrice: bigint
  mediators: string[]
  target: string
  timeout: number
  auditPpm: number
  expiry: bigint
  nonce: bigint
  /** keccak256(secret), 0x-hex (protocols/settlement/seed.ts) */
  seedCommit: string
}

export interface Deal {
  jobOfferId: string
  resourceOfferId: string
  jobCreator: string
  resourceProvider: string
  mediators: string[]
  price: bigint
  collateral: bigint
  mediationFee: bigint
  auditPpm: number
  resultTimeout: number
  judgeWindow: number
  mediateTimeout: number
  expiry: bigint
  nonce: bigint
}

export interface Result {
  dealId: string
  resultCid: string
  exitCode: number
  timestamp: bigint
}

export interface Accept {
  dealId: string
  resultCid: string
}

export interface MessageKinds {
  ResourceOffer: ResourceOffer
  JobOffer: JobOffer
  Deal: Deal
  Result: Result
  Accept: Accept
}

export type MessageKind = keyof MessageKinds

const TYPES: { [K in MessageKind]: Record<string, ReadonlyArray<{ name: string, type: string }>> } = {
  ResourceOffer: ResourceOfferTypes,
  JobOffer: JobOfferTypes,
  Deal: DealTypes,
  Result: ResultTypes,
  Accept: AcceptTypes
}

export function typesOf (kind: MessageKind): Record<string, Array<{ name: string, type: string }>> {
  const t = TYPES[kind]
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.map(f => ({ ...f }))]))
}

/** The message's id: its EIP-712 digest under the network's domain. */
export function idOf<K extends MessageKind> (kind: K, domain: LilypadDomain, value: MessageKinds[K]): string {
  return typedDataHash(domainOf(domain), typesOf(kind), value as unknown as Record<string, unknown>)
}

/** The EIP-712 struct hash (without domain), as Solidity's `keccak256(abi.encode(TYPEHASH, …))`. */
export function structHashOf<K extends MessageKind> (kind: K, value: MessageKinds[K]): string {
  return TypedDataEncoder.from(typesOf(kind)).hash(value as unknown as Record<string, unknown>)
}

export async function signMessage<K extends MessageKind> (kind: K, domain: LilypadDomain, value: MessageKinds[K], signer: Signer): Promise<string> {
  return await signer.signTypedData(domainOf(domain), typesOf(kind), value as unknown as Record<string, unknown>)
}

/** The address that signed `value`, or throws if the signature is malformed. */
export function recoverSigner<K extends MessageKind> (kind: K, domain: LilypadDomain, value: MessageKinds[K], signature: string): string {
  return recoverTypedData(domainOf(domain), typesOf(kind), value as unknown as Record<string, unknown>, signature)
}
