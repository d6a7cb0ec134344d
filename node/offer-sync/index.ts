export { OfferSync, type OfferSyncInit } from './offer-sync.ts'
