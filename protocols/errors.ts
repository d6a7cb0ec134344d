// Validation at the edge throws one error class carrying what gossipsub should do with the message:
// REJECT penalises the sender (malformed, forged, wrong network, oversized); IGNORE drops it quietly
// (stale, duplicate, replayed), since an honest peer can forward those.
export type ValidationAction = 'REJECT' | 'IGNORE'

export type ValidationCode =
  | 'OVERSIZED'
  | 'MALFORMED'
  | 'UNKNOWN_VERSION'
  | 'UNKNOWN_KIND'
  | 'WRONG_KIND'
  | 'NON_CANONICAL'
  | 'SCHEMA'
  | 'BAD_SIGNATURE'
  | 'EXPIRED'
  | 'EXPIRY_TOO_FAR'
  | 'DUPLICATE'
  | 'REPLAYED_NONCE'
  | 'STALE_NONCE'
  | 'UNBOUND_PEER'
  | 'BAD_PEER_BINDING'

const ACTIONS: Record<ValidationCode, ValidationAction> = {
  OVERSIZED: 'REJECT',
  MALFORMED: 'REJECT',
  UNKNOWN_VERSION: 'REJECT',
  UNKNOWN_KIND: 'REJECT',
  WRONG_KIND: 'REJECT',
  NON_CANONICAL: 'REJECT',
  SCHEMA: 'REJECT',
  BAD_SIGNATURE: 'REJECT',
  EXPIRED: 'IGNORE',
  EXPIRY_TOO_FAR: 'IGNORE',
  DUPLICATE: 'IGNORE',
  REPLAYED_NONCE: 'IGNORE',
  STALE_NONCE: 'IGNORE',
  // a resource offer whose peer hint its provider did not sign: our nodes always sign it, so the sender made it up
  UNBOUND_PEER: 'REJECT',
  BAD_PEER_BINDING: 'REJECT'
}

export class MessageValidationError extends Error {
  static override name = 'MessageValidationError'
  override name = MessageValidationError.name
  readonly code: ValidationCode
  readonly action: ValidationAction

  constructor (code: ValidationCode, message: string) {
    super(`${code}: ${message}`)
    this.code = code
    this.action = ACTIONS[code]
  }
}
