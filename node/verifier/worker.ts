// A verifier worker: decodes an envelope and recovers its signers (see verifier.ts). Pure CPU, no state.
import { parentPort } from 'node:worker_threads'
import { decodeEnvelope } from '../../protocols/codec.ts'
import { recoverEnvelope } from '../../protocols/validation.ts'
import { installNativeRecover } from '../crypto/native-recover.ts'

installNativeRecover()

interface Request { seq: number, bytes: Uint8Array, chainId: bigint, verifyingContract: string, withBinding: boolean }

parentPort?.on('message', (m: Request) => {
  try {
    const env = decodeEnvelope(m.bytes)
    const r = recoverEnvelope(env, { chainId: m.chainId, verifyingContract: m.verifyingContract }, m.withBinding)
    parentPort?.postMessage({ seq: m.seq, r })
  } catch (err) {
    // the caller decoded the same bytes before sending them, so this is a bug, not bad input: say so
    parentPort?.postMessage({ seq: m.seq, error: `verifier worker: ${(err as Error).message}` })
  }
})

parentPort?.postMessage({ ready: true })
