// Both verifiers give the same answers as recovering in place, including for forgeries and bad peer bindings; the
// inline one yields to the event loop between slices; the worker pool verifies on other threads.
import test from 'ava'
import { encodeEnvelope } from '../../protocols/codec.ts'
import { recoverEnvelope } from '../../protocols/validation.ts'
import { signPeerBinding } from '../../protocols/peer-binding.ts'
import { testDomain, wallet, resourceOffer, boundResourceOffer, signedResourceOffer, nowSec } from '../testing/fixtures.ts'
import { InlineVerifier, WorkerVerifier } from './verifier.ts'

async function samples (): Promise<Array<Awaited<ReturnType<typeof boundResourceOffer>>>> {
  const rp = wallet('verifier-rp')
  const evil = wallet('verifier-evil')
  const good = await boundResourceOffer(rp, resourceOffer(rp.address), '12D3KooWgood')
  const forged = { ...(await signedResourceOffer(evil, resourceOffer(rp.address))), peer: '12D3KooWevil' }
  const expiry = nowSec() + 600n
  const badBinding = { ...good, peer: '12D3KooWevil', binding: { expiry, signature: await signPeerBinding(testDomain, { account: rp.address, peerId: '12D3KooWevil', expiry }, evil) } }
  return [good, forged, badBinding]
}

test('the worker pool and the inline verifier answer exactly as recovering in place', async t => {
  const envs = await samples()
  const expected = envs.map(e => recoverEnvelope(e, testDomain, true))
  t.is(expected[0].bindingSigner, expected[0].signer)
  t.not(expected[1].signer, envs[1].value.provider)
  t.not(expected[2].bindingSigner, expected[2].signer)
  const pool = new WorkerVerifier({ size: 1 })
  const inline = new InlineVerifier()
  t.teardown(async () => { await pool.close(); await inline.close() })
  await pool.ready()
  for (const v of [pool, inline]) {
    const got = await Promise.all(envs.map(async e => await v.recover(e, encodeEnvelope(e), testDomain, true)))
    t.deepEqual(got, expected, v.kind)
    t.deepEqual(await v.recover(envs[0], encodeEnvelope(envs[0]), testDomain, false), { id: expected[0].id, signer: expected[0].signer })
  }
  t.is(pool.pending, 0)
})

test('the inline verifier lets the event loop run between its slices', async t => {
  const rp = wallet('verifier-many')
  const env = await boundResourceOffer(rp, resourceOffer(rp.address), '12D3KooWmany')
  const inline = new InlineVerifier({ sliceMs: 1 })
  t.teardown(async () => { await inline.close() })
  let ticks = 0
  let done = false
  const tick = (): void => { if (done) return; ticks++; setImmediate(tick) }
  setImmediate(tick)
  await Promise.all(Array.from({ length: 40 }, async () => await inline.recover(env, encodeEnvelope(env), testDomain, true)))
  done = true
  t.true(ticks > 1, `other callbacks ran ${ticks} times while 40 messages were verified`)
})

test('a closed verifier refuses work with a named error', async t => {
  const inline = new InlineVerifier()
  await inline.close()
  const [env] = await samples()
  await t.throwsAsync(inline.recover(env, encodeEnvelope(env), testDomain, true), { name: 'VerifierClosedError' })
  const pool = new WorkerVerifier({ size: 1 })
  await pool.close()
  await t.throwsAsync(pool.recover(env, encodeEnvelope(env), testDomain, true), { name: 'VerifierClosedError' })
})
