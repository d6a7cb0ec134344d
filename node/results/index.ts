export { ResultReceiver, deliverResult, OfferSync, type ExpectedResult, type ReceivedResult, type OfferSyncInit } from './service.ts'
