// A validator's verdict on one canary job, signed as EIP-712 typed data under the Rewards contract's own domain
// (contracts/src/Rewards.sol `CanaryReport`), so the contract can check it and anyone holding it — the provider it
// passed, for one — can record it on chain. Its id is its EIP-712 digest.
import { TypedDataEncoder, getAddress, id, isAddress, isHexString, ZeroHash, type Signer, type TypedDataDomain } from 'ethers'
import { recoverTypedData } from '../signatures.ts'

export const REWARDS_DOMAIN_NAME = 'Lilypad Rewards'
export const REWARDS_DOMAIN_VERSION = '1'

export interface RewardsDomain {
  chainId: bigint
  /** the Rewards contract */
  verifyingContract: string
}

export function rewardsDomainOf (d: RewardsDomain): TypedDataDomain {
  return { name: REWARDS_DOMAIN_NAME, version: REWARDS_DOMAIN_VERSION, chainId: d.chainId, verifyingContract: getAddress(d.verifyingContract) }
}

export const CanaryOutcome = { Passed: 1, WrongResult: 2, NoResult: 3, Unreachable: 4 } as const
export type CanaryOutcomeValue = typeof CanaryOutcome[keyof typeof CanaryOutcome]
export type CanaryOutcomeName = keyof typeof CanaryOutcome

export function outcomeName (o: CanaryOutcomeValue): CanaryOutcomeName {
  return (Object.entries(CanaryOutcome).find(([, v]) => v === o) as [CanaryOutcomeName, number])[0]
}

export const CanaryReportTypes = {
  CanaryReport: [
    { name: 'epoch', type: 'uint64' },
    { name: 'provider', type: 'address' },
    { name: 'dealId', type: 'bytes32' }, // zero when the provider could not be reached
    { name: 'outcome', type: 'uint8' },
    { name: 'units', type: 'uint32' }, // resource units of the offer slot the canary ran in (units.ts)
    { name: 'observedAt', type: 'uint64' } // unix seconds
  ]
}

export interface CanaryReport {
  epoch: bigint
  provider: string
  dealId: string
  outcome: CanaryOutcomeValue
  units: number
  observedAt: bigint
}

export interface SignedCanaryReport { report: CanaryReport, signature: string }

export type CanaryReportErrorCode = 'SCHEMA' | 'BAD_SIGNATURE' | 'NOT_A_VALIDATOR'

export class CanaryReportError extends Error {
  static override name = 'CanaryReportError'
  override name = CanaryReportError.name
  readonly code: CanaryReportErrorCode
  constructor (code: CanaryReportErrorCode, message: string) {
    super(`${code}: ${message}`)
    this.code = code
  }
}

function types (): Record<string, Array<{ name: string, type: string }>> {
  return { CanaryReport: CanaryReportTypes.CanaryReport.map(f => ({ ...f })) }
}

export function canaryReportId (domain: RewardsDomain, r: CanaryReport): string {
  return TypedDataEncoder.hash(rewardsDomainOf(domain), types(), r as unknown as Record<string, unknown>)
}

/** Solidity's CANARY_REPORT_TYPEHASH. */
export function canaryReportTypeHash (): string {
  return id(TypedDataEncoder.from(types()).encodeType('CanaryReport'))
}

export async function signCanaryReport (domain: RewardsDomain, r: CanaryReport, signer: Signer): Promise<SignedCanaryReport> {
  checkCanaryReport(r)
  return { report: r, signature: await signer.signTypedData(rewardsDomainOf(domain), types(), r as unknown as Record<string, unknown>) }
}

/** The same checks the contract makes before it looks at the signature. */
export function checkCanaryReport (r: CanaryReport): void {
  if (!isAddress(r.provider) || getAddress(r.provider) === getAddress('0x0000000000000000000000000000000000000000')) throw new CanaryReportError('SCHEMA', 'provider must be a non-zero address')
  if (!isHexString(r.dealId, 32)) throw new CanaryReportError('SCHEMA', 'dealId must be 32 bytes of hex')
  if (![1, 2, 3, 4].includes(r.outcome)) throw new CanaryReportError('SCHEMA', `outcome must be 1..4, got ${String(r.outcome)}`)
  if ((r.outcome === CanaryOutcome.Unreachable) !== (r.dealId === ZeroHash)) throw new CanaryReportError('SCHEMA', 'only an unreachable provider\'s report has no deal, and it has none')
  if (!Number.isSafeInteger(r.units) || r.units < 0 || r.units > 0xffff_ffff) throw new CanaryReportError('SCHEMA', 'units must fit a uint32')
  if (r.epoch < 0n || r.epoch >= 1n << 64n || r.observedAt < 0n || r.observedAt >= 1n << 64n) throw new CanaryReportError('SCHEMA', 'epoch and observedAt must fit a uint64')
}

/** The report's signer, checked against the validators the contract knows; throws CanaryReportError. */
export function verifyCanaryReport (domain: RewardsDomain, s: SignedCanaryReport, validators: Iterable<string>): string {
  checkCanaryReport(s.report)
  let signer: string
  try {
    signer = recoverTypedData(rewardsDomainOf(domain), types(), s.report as unknown as Record<string, unknown>, s.signature)
  } catch (err) {
    throw new CanaryReportError('BAD_SIGNATURE', (err as Error).message)
  }
  const allowed = new Set([...validators].map(v => v.toLowerCase()))
  if (!allowed.has(signer.toLowerCase())) throw new CanaryReportError('NOT_A_VALIDATOR', `${signer} is not one of the Rewards contract's validators`)
  return signer
}

/** JSON form (reports travel as files between the validator and whoever records them). */
export function canaryReportToJson (s: SignedCanaryReport): Record<string, string | number> {
  const r = s.report
  return { epoch: r.epoch.toString(), provider: r.provider, dealId: r.dealId, outcome: r.outcome, units: r.units, observedAt: r.observedAt.toString(), signature: s.signature }
}

export function canaryReportFromJson (x: unknown): SignedCanaryReport {
  if (typeof x !== 'object' || x === null) throw new CanaryReportError('SCHEMA', 'a canary report must be an object')
  const o = x as Record<string, unknown>
  const dec = (k: string): bigint => {
    const v = o[k]
    if (typeof v !== 'string' || !/^\d{1,20}$/.test(v)) throw new CanaryReportError('SCHEMA', `${k} must be a decimal string`)
    return BigInt(v)
  }
  if (typeof o.provider !== 'string' || typeof o.dealId !== 'string' || typeof o.signature !== 'string' || !isHexString(o.signature, 65)) throw new CanaryReportError('SCHEMA', 'provider, dealId and a 65-byte signature are required')
  const report: CanaryReport = { epoch: dec('epoch'), provider: o.provider, dealId: o.dealId.toLowerCase(), outcome: o.outcome as CanaryOutcomeValue, units: o.units as number, observedAt: dec('observedAt') }
  checkCanaryReport(report)
  return { report: { ...report, provider: getAddress(report.provider) }, signature: o.signature }
}
