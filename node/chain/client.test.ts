// The chain client against a real anvil: nonce queue, named RPC errors, revert decoding, gas log, deal events.
import test from 'ava'
import { createServer, type Server, type Socket } from 'node:net'
import { startDevnet, agreeDeal, type Devnet } from '../../contracts/fixture.ts'
import { ChainClient, compactSignature } from './client.ts'
import { Wallet, id as keccakText } from 'ethers'
import { withHeadroom, TxQueue, type GasEntry } from './queue.ts'
import { connectLilypadToken } from '../../contracts/generated/index.ts'

let net: Devnet
test.before(async () => { net = await startDevnet() })
test.after.always(async () => { await net?.stop() })

async function listen (onConnection: (s: Socket) => void): Promise<{ server: Server, port: number, sockets: Set<Socket> }> {
  const sockets = new Set<Socket>()
  const server = createServer(s => { sockets.add(s); onConnection(s) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const addr = server.address()
  if (addr === null || typeof addr === 'string') throw new Error('no port')
  return { server, port: addr.port, sockets }
}

async function close (server: Server, sockets: Set<Socket>): Promise<void> {
  for (const s of sockets) s.destroy()
  await new Promise<void>(resolve => server.close(() => resolve()))
}

test.serial('20 concurrent sends from one key get consecutive nonces and all mine in order', async t => {
  const token = connectLilypadToken(net.deployment.contracts.token, null)
  const start = await net.provider.getTransactionCount(net.stranger.address, 'latest')
  const receipts = await Promise.all(Array.from({ length: 20 }, async (_, i) =>
    await net.stranger.queue.send(`transfer ${i}`, async () => await token.transfer.populateTransaction(net.outsider.address, BigInt(i + 1)))))
  const txs = await Promise.all(receipts.map(async r => await net.provider.getTransaction(r.hash)))
  t.deepEqual(txs.map(tx => tx!.nonce), Array.from({ length: 20 }, (_, i) => start + i))
  for (let i = 1; i < receipts.length; i++) t.true(receipts[i].blockNumber > receipts[i - 1].blockNumber)
  t.is(await net.provider.getTransactionCount(net.stranger.address, 'latest'), start + 20)
})

test.serial('a send that would revert consumes no nonce and does not wedge the queue', async t => {
  const token = connectLilypadToken(net.deployment.contracts.token, null)
  const before = await net.provider.getTransactionCount(net.stranger.address, 'latest')
  const [bad, good] = await Promise.allSettled([
    net.stranger.withdraw(10n ** 30n),
    net.stranger.queue.send('transfer after a failure', async () => await token.transfer.populateTransaction(net.outsider.address, 1n))
  ])
  t.is(bad.status, 'rejected')
  const err = (bad as PromiseRejectedResult).reason as { name: string, reason: string }
  t.is(err.name, 'ContractRevertError')
  t.is(err.reason, 'InsufficientBalance')
  t.is(good.status, 'fulfilled')
  t.is(await net.provider.getTransactionCount(net.stranger.address, 'latest'), before + 1)
})

test.serial('every receipt lands in the gas log', async t => {
  const n = net.rp.gasLog.length
  const { deal } = await agreeDeal(net)
  await net.rp.submitResult(deal, 'bafy-gas')
  const entries = net.rp.gasLog.slice(n)
  t.deepEqual(entries.map(e => e.what), ['agree', 'submitResult'])
  for (const e of entries) {
    t.true(e.gasUsed > 21_000n)
    const receipt = await net.provider.getTransactionReceipt(e.hash)
    t.is(receipt!.gasUsed, e.gasUsed)
  }
})

test.serial('the gas log is bounded: it keeps the newest receipts, in place', async t => {
  const token = connectLilypadToken(net.deployment.contracts.token, null)
  const log: GasEntry[] = []
  // its own queue on the stranger's key (the fixture's client has its own nonce queue: these go one after another)
  const queue = new TxQueue(net.stranger.wallet, log, { gasLogMax: 3 })
  const hashes: string[] = []
  for (let i = 0; i < 5; i++) hashes.push((await queue.send(`transfer ${i}`, async () => await token.transfer.populateTransaction(net.outsider.address, 1n))).hash)
  t.is(queue.gasLog, log)
  t.deepEqual(log.map(e => e.hash), hashes.slice(2))
  t.deepEqual(log.map(e => e.what), ['transfer 2', 'transfer 3', 'transfer 4'])
})

test.serial('an audit draw is fixed before the transaction that makes it: the estimate takes the path the inclusion runs', async t => {
  // The draw uses the submission block's hash, which exists before the job creator's accept is estimated: a deal whose
  // draw hits is estimated on the audited (dearer) path it then runs, and the limit sent covers it with headroom.
  const costOf = async (auditPpm: number): Promise<{ gasUsed: bigint, gasLimit: bigint, state: string }> => {
    const { deal, id } = await agreeDeal(net, { auditPpm })
    await net.rp.submitResult(deal, 'bafy-headroom')
    await net.jc.accept([deal])
    const entry = net.jc.gasLog.at(-1)!
    const tx = await net.provider.getTransaction(entry.hash)
    return { gasUsed: entry.gasUsed, gasLimit: tx!.gasLimit, state: (await net.jc.dealRecord(id)).state }
  }
  const plain = await costOf(0)
  const drawn = await costOf(1_000_000)
  t.is(plain.state, 'Settled')
  t.is(drawn.state, 'Challenged', 'the accept of a deal whose draw hit started its audit')
  t.log(`accept gas: ${plain.gasUsed} settled, ${drawn.gasUsed} audited; limit sent ${drawn.gasLimit}`)
  t.true(drawn.gasLimit >= withHeadroom(drawn.gasUsed), 'the estimate saw the audited path')
  t.true(plain.gasLimit >= withHeadroom(plain.gasUsed))
})

test.serial('a deal watcher follows the deal through its events', async t => {
  const { deal, id } = await agreeDeal(net)
  const watcher = await net.jc.watchDeal(id)
  t.teardown(async () => { await watcher.stop() })
  t.is(watcher.view.state, 'Agreed') // from the backfill
  t.is(watcher.view.price, deal.price)
  const submitted = watcher.waitFor('ResultSubmitted')
  await net.rp.submitResult(deal, 'bafy-watched')
  t.is((await submitted).resultCid, 'bafy-watched')
  const challenged = watcher.waitFor('Challenged')
  // the challenge draws nobody; the client draws the mediator from its block's hash in a second transaction
  const mediator = await net.jc.challenge(deal)
  t.is((await challenged).mediator, undefined)
  const verdict = watcher.waitFor(['MediatedCorrect', 'MediatedWrong'])
  await (mediator === net.m1.address ? net.m1 : net.m2).mediate(deal, true)
  const final = await verdict
  t.is(final.state, 'MediatedCorrect')
  t.is(final.mediator, mediator)
  t.deepEqual(final.events.map(e => e.kind), ['DealAgreed', 'ResultSubmitted', 'DealChallenged', 'MediatorDrawn', 'DealMediated'])
  t.is(final.jobCreator, net.jc.address)
  t.is(final.resourceProvider, net.rp.address)
})

test('an RPC nobody listens on gives RpcUnreachableError after bounded retries', async t => {
  const { server, port, sockets } = await listen(() => {})
  await close(server, sockets) // the port is now closed
  const started = Date.now()
  const err = await t.throwsAsync(ChainClient.create({
    network: { ...net.deployment.network, rpcUrl: `http://127.0.0.1:${port}` },
    privateKey: net.anvil.keys[9],
    retry: { attempts: 3, baseDelayMs: 20 }
  }))
  t.is(err?.name, 'RpcUnreachableError')
  t.is((err as unknown as { attempts: number }).attempts, 3)
  t.true(Date.now() - started < 3000)
})

test('an RPC that accepts but never answers gives RpcTimeoutError', async t => {
  const { server, sockets } = await listen(() => {})
  t.teardown(async () => { await close(server, sockets) })
  const addr = server.address() as { port: number }
  const err = await t.throwsAsync(ChainClient.create({
    network: { ...net.deployment.network, rpcUrl: `http://127.0.0.1:${addr.port}` },
    privateKey: net.anvil.keys[9],
    retry: { attempts: 2, baseDelayMs: 10, timeoutMs: 200 }
  }))
  t.is(err?.name, 'RpcTimeoutError')
})

test('a network file with another chain id gives WrongChainError', async t => {
  const err = await t.throwsAsync(ChainClient.create({
    network: { ...net.deployment.network, rpcUrl: net.anvil.rpcUrl, chainId: 1 },
    privateKey: net.anvil.keys[9]
  }))
  t.is(err?.name, 'WrongChainError')
  t.is((err as unknown as { actual: number }).actual, net.anvil.chainId)
})

test('compactSignature: the signer\'s own 65-byte ECDSA signature goes out in 64 bytes; anything else as given', t => {
  const w = Wallet.createRandom()
  const other = Wallet.createRandom()
  const digest = keccakText('a digest')
  const sig = w.signingKey.sign(digest).serialized
  const short = compactSignature(sig, digest, w.address)
  t.is((short.length - 2) / 2, 64)
  t.is(short.slice(0, 66), sig.slice(0, 66), 'r first')
  t.is(compactSignature(sig, digest, other.address), sig, 'not the named signer\'s: unchanged (the Market names the error)')
  t.is(compactSignature(sig, keccakText('another digest'), w.address), sig, 'over another digest: unchanged')
  const wallet1271 = '0x' + 'ab'.repeat(97)
  t.is(compactSignature(wallet1271, digest, w.address), wallet1271, 'a contract wallet\'s bytes: unchanged')
  t.is(compactSignature('0x', digest, w.address), '0x')
})
