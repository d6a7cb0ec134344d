import type { JobOffer, ResourceOffer } from '../eip712.ts'
import type { Verified } from '../validation.ts'

export interface GossipPayloads {
  'resource-offers': ResourceOffer
  'job-offers': JobOffer
}

export type VerifiedResourceOffer = Verified<'ResourceOffer'>
export type VerifiedJobOffer = Verified<'JobOffer'>
