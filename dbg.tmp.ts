import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseEther } from 'ethers'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { startDevnet, DEVNET_KEYS } from './node/devnet.ts'
import { LilypadNode } from './node/node.ts'
import { devKey } from './node/chain/index.ts'
const home = await mkdtemp(join(tmpdir(), 'dbg-'))
const devnet = await startDevnet({ home, port: 0, slots: 2 })
const rp2 = await LilypadNode.create({ network: devnet.network, networkPath: devnet.networkPath, privateKey: devKey(DEVNET_KEYS.provider2), dataDir: join(home, 'rp2'), roles: ['resource-provider'], local: true, provider: { slots: 2, price: parseEther('0.5'), collateral: parseEther('3'), announceIntervalMs: 5000 } })
const mk = async (k: number, name: string) => { const node = await LilypadNode.create({ network: devnet.network, networkPath: devnet.networkPath, privateKey: devKey(k), dataDir: join(home, name), roles: [], local: true, host: { privateKey: await generateKeyPair('Ed25519') } }); const jc = await node.createJobCreator({ network: devnet.network, dataDir: join(home, name) }); return { node, jc } }
const a = await mk(DEVNET_KEYS.user, 'a')
const b = await mk(DEVNET_KEYS.user2, 'b')
const t0 = Date.now()
const timer = setInterval(() => { for (const [n, x] of [['a', a], ['b', b]] as const) console.log(Date.now() - t0, n, 'book', x.jc.book.size, JSON.stringify(x.jc.offerSync.metrics), 'gossip acc', x.jc.gossip.metrics.accepted, JSON.stringify(x.jc.gossip.metrics.byCode)) }, 1000)
const jobs = Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).jc.run({ module: 'stress:v0.1.0', inputs: { Mode: 'sleep', Arg: '1', Timeout: '20' }, onNote: m => console.log('note', i, m) }).then(o => console.log('done', i, o.deal.resourceProvider), e => console.log('FAIL', i, (e as Error).message)))
await Promise.all(jobs)
clearInterval(timer)
await a.node.stop(); await b.node.stop(); await rp2.stop(); await devnet.stop(); process.exit(0)
