// A provider withdraws a capacity slot's offer (the slot got booked) before the offer expires. Signed
// EIP-712 typed data under the Lilypad domain; a withdrawal with a higher nonce than the slot's offer removes
// it from order books and keeps older copies of the offer out until the withdrawal expires.
import type { Signer } from 'ethers'
import { recoverTypedData, typedDataHash } from './signatures.ts'
import { domainOf, type LilypadDomain } from './eip712.ts'

export const OfferWithdrawalTypes = {
  OfferWithdrawal: [
    { name: 'provider', type: 'address' },
    { name: 'slot', type: 'uint32' },
    { name: 'expiry', type: 'uint64' },
    { name: 'nonce', type: 'uint64' }
  ]
}

export interface OfferWithdrawal { provider: string, slot: number, expiry: bigint, nonce: bigint }

function types (): Record<string, Array<{ name: string, type: string }>> {
  return { OfferWithdrawal: OfferWithdrawalTypes.OfferWithdrawal.map(f => ({ ...f })) }
}

export function withdrawalId (domain: LilypadDomain, w: OfferWithdrawal): string {
  return typedDataHash(domainOf(domain), types(), w as unknown as Record<string, unknown>)
}

export async function signWithdrawal (domain: LilypadDomain, w: OfferWithdrawal, signer: Signer): Promise<string> {
  return await signer.signTypedData(domainOf(domain), types(), w as unknown as Record<string, unknown>)
}

export function recoverWithdrawalSigner (domain: LilypadDomain, w: OfferWithdrawal, signature: string): string {
  return recoverTypedData(domainOf(domain), types(), w as unknown as Record<string, unknown>, signature)
}
