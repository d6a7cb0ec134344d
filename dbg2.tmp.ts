import { encodeEnvelope } from './protocols/codec.ts'
import { validateGossip } from './protocols/gossip/validator.ts'
import { ReplayCache } from './protocols/replay-cache.ts'
import { PeerBindingCache } from './protocols/peer-binding.ts'
import { testDomain, wallet, resourceOffer, boundResourceOffer, signedResourceOffer, nowSec } from './node/testing/fixtures.ts'
const w = wallet('a')
const bound = [] as Uint8Array[], plain = [] as Uint8Array[]
for (let i = 0; i < 20; i++) { bound.push(encodeEnvelope(await boundResourceOffer(w, resourceOffer(w.address, { slot: i }), '12D3KooWabc'))); plain.push(encodeEnvelope(await signedResourceOffer(w, resourceOffer(w.address, { slot: i })))) }
const bindings = new PeerBindingCache()
let t = performance.now()
for (const b of bound) validateGossip('resource-offers', b, { domain: testDomain, now: nowSec(), replay: new ReplayCache(), bindings })
console.log('bound', (performance.now() - t) / 20)
t = performance.now()
for (const b of plain) { try { validateGossip('resource-offers', b, { domain: testDomain, now: nowSec(), replay: new ReplayCache(), bindings }) } catch {} }
console.log('plain', (performance.now() - t) / 20)
