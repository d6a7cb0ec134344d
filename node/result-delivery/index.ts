export { ResultReceiver, deliverResult, type ExpectedResult, type ReceivedResult } from './result-delivery.ts'
