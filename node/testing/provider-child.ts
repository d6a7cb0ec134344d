// A resource provider in its own process, for tests that SIGKILL it mid-job. Reads { networkPath, privateKey,
// dataDir, slots, price, agreeWindowMs? } as JSON from argv[2]; prints "ready" once started. Its executor's owner id comes from
// dataDir, as in a real node, so a provider restarted on the same data directory finds its containers.
import { loadNetwork } from '../config/load.ts'
import { LilypadNode } from '../node.ts'

const o = JSON.parse(process.argv[2]) as { networkPath: string, privateKey: string, dataDir: string, slots: number, price: string, agreeWindowMs?: number }
const { network } = await loadNetwork(o.networkPath)
await LilypadNode.create({ network, networkPath: o.networkPath, privateKey: o.privateKey, dataDir: o.dataDir, roles: ['resource-provider'], local: true, provider: { slots: o.slots, price: BigInt(o.price), ...(o.agreeWindowMs !== undefined ? { lifecycle: { agreeWindowMs: o.agreeWindowMs } } : {}) } })
process.stdout.write('ready\n')
// The test that spawned us holds our stdin: when it goes (finished, timed out, killed), so do we, leaving no
// process behind to run jobs beside later tests.
process.stdin.on('end', () => { process.exit(1) })
process.stdin.resume()
