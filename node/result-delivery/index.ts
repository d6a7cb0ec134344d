export { ResultReceiver, deliverResult, sendDealNotice, type ExpectedResult, type ReceivedResult, type ReceivedNotice } from './result-delivery.ts'
