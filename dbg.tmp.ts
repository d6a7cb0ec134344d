import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { startDevnet, DEVNET_KEYS } from './node/devnet.ts'
import { LilypadNode } from './node/node.ts'
import { devKey } from './node/chain/index.ts'
import { startJunkAttack, junkLive } from './bench/adversarial.ts'
const home = await mkdtemp(join(tmpdir(), 'dbg-'))
const devnet = await startDevnet({ home, port: 0, slots: 2 })
let t0 = Date.now()
const attack = await startJunkAttack(devnet, { count: 1000, silent: 100 })
console.log('signed+published', Date.now() - t0)
await junkLive(devnet, 1000)
console.log('live at bootstrap', Date.now() - t0, devnet.bootstrap.book.size)
t0 = Date.now()
const node = await LilypadNode.create({ network: devnet.network, networkPath: devnet.networkPath, privateKey: devKey(DEVNET_KEYS.user), dataDir: join(home, 'a'), roles: [], local: true, host: { privateKey: await generateKeyPair('Ed25519') } })
const jc = await node.createJobCreator({ network: devnet.network, dataDir: join(home, 'a') })
const rp = devnet.provider.chain.address
for (let i = 0; i < 15; i++) {
  await new Promise(r => setTimeout(r, 1000))
  console.log(Date.now() - t0, 'jc book', jc.book.size, 'honest', jc.book.offers().some(o => o.offer.provider === rp), JSON.stringify(jc.offerSync.metrics), 'gossip', jc.gossip.metrics.accepted, JSON.stringify(jc.gossip.metrics.byCode))
}
await node.stop(); await attack.stop(); await devnet.stop(); process.exit(0)
