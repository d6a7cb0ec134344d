// Directory records in the DHT under `/lilypad/node/<peer id>`. The value is canonical CBOR
// [NodeRecord envelope signed by the Ethereum key, signature of the record's EIP-712 digest by the peer's
// libp2p key]. The kad-dht validator rejects forged (either signature wrong, or the key's peer id differs
// from the record's) and expired records; the selector keeps the valid record with the highest seq.
import { encode, decode } from 'cborg'
import { getBytes } from 'ethers'
import { peerIdFromString } from '@libp2p/peer-id'
import { decodeEnvelope, encodeEnvelope, type Envelope } from '../codec.ts'
import { MessageValidationError } from '../errors.ts'
import { validateEnvelope } from '../validation.ts'
import { nodeRecordDigest, type NodeRecord } from './record-types.ts'
import type { LilypadDomain } from '../eip712.ts'

export * from './record-types.ts'

export const DHT_NAMESPACE = 'lilypad'
/** Records may live at most this long (seconds): publishers refresh them. */
export const MAX_RECORD_TTL = 7n * 24n * 3600n

export function nodeRecordKey (peerId: string): Uint8Array {
  return new TextEncoder().encode(`/${DHT_NAMESPACE}/node/${peerId}`)
}

export function peerIdOfKey (key: Uint8Array): string {
  const m = /^\/lilypad\/node\/([1-9A-HJ-NP-Za-km-z]+)$/.exec(new TextDecoder().decode(key))
  if (m === null) throw new MessageValidationError('SCHEMA', 'not a /lilypad/node/<peer id> key')
  return m[1]
}

export interface SignedNodeRecord {
  record: Envelope<'NodeRecord'>
  /** the peer's libp2p signature over the record's EIP-712 digest */
  peerSignature: Uint8Array
}

export function encodeSignedNodeRecord (s: SignedNodeRecord): Uint8Array {
  return encode([encodeEnvelope(s.record), s.peerSignature])
}

export function decodeSignedNodeRecord (bytes: Uint8Array): SignedNodeRecord {
  let raw: unknown
  try { raw = decode(bytes, { strict: true, allowIndefinite: false, allowUndefined: false }) } catch (err) {
    throw new MessageValidationError('MALFORMED', `not CBOR (${(err as Error).message})`)
  }
  if (!Array.isArray(raw) || raw.length !== 2 || !(raw[0] instanceof Uint8Array) || !(raw[1] instanceof Uint8Array) || raw[1].length > 512) {
    throw new MessageValidationError('MALFORMED', 'expected [record, peerSignature]')
  }
  return { record: decodeEnvelope(raw[0], 'NodeRecord') as Envelope<'NodeRecord'>, peerSignature: raw[1] }
}

/** Verifies a record stored under `key`; returns it or throws MessageValidationError. */
export async function verifyNodeRecord (key: Uint8Array, value: Uint8Array, domain: LilypadDomain, now: bigint): Promise<NodeRecord> {
  const signed = decodeSignedNodeRecord(value)
  const record = signed.record.value
  if (peerIdOfKey(key) !== record.peerId) throw new MessageValidationError('BAD_SIGNATURE', 'record is stored under another peer id')
  validateEnvelope(signed.record, { domain, now, maxTtl: MAX_RECORD_TTL })
  let ok = false
  try {
    const pub = peerIdFromString(record.peerId).publicKey
    ok = pub !== undefined && await pub.verify(getBytes(nodeRecordDigest(domain, record)), signed.peerSignature)
  } catch {
    ok = false
  }
  if (!ok) throw new MessageValidationError('BAD_SIGNATURE', 'record not signed by the peer it names')
  return record
}

export function nodeRecordValidator (domain: LilypadDomain, now: () => bigint) {
  return async (key: Uint8Array, value: Uint8Array): Promise<void> => { await verifyNodeRecord(key, value, domain, now()) }
}

/** kad-dht selector: the index of the newest record (highest seq); invalid or unparsable records lose. */
export function nodeRecordSelector () {
  return (_key: Uint8Array, records: Uint8Array[]): number => {
    let best = 0
    let bestSeq = -1n
    records.forEach((r, i) => {
      try {
        const seq = decodeSignedNodeRecord(r).record.value.seq
        if (seq > bestSeq) { best = i; bestSeq = seq }
      } catch {}
    })
    return best
  }
}
