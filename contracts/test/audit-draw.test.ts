// The audit draw of a submission, attacked (docs/mediation.md, "Unbiasable draws"): it is made from the hash of the
// block the submission lands in, which the provider does not know when it submits. A provider that grinds its result
// CID against everything it can see, or picks its moment, cannot steer it; once the block is made the draw is fixed,
// so waiting does not re-draw it; past BLOCKHASH's 256 blocks an undrawn submission is audited; and no settling
// transaction (accept, settle, an acceptance signed off chain) gets around it.
import test from 'ava'
import { toStruct, decodeRevert, waitForReceipt } from '../../node/chain/index.ts'
import { auditDrawHits, cidHash } from '../../protocols/settlement/index.ts'
import { startDevnet, agreeDeal, increaseTime, marketBalances, type Devnet } from '../fixture.ts'
import { signMessage } from '../../protocols/eip712.ts'

let net: Devnet
test.before(async () => { net = await startDevnet() })
test.after.always(async () => { await net?.stop() })

const HALF = 500_000

async function reason (p: Promise<unknown>): Promise<string> {
  try { await p } catch (err) { return (err as { reason?: string }).reason ?? (err as Error).name }
  return 'succeeded'
}

/**
 * A Market call sent straight through anvil (its dev accounts are unlocked), for steps inside an evm_snapshot: the
 * clients' transaction queues keep their nonces, which a revert would leave ahead of the chain. Returns the receipt.
 */
async function raw (from: string, fn: string, args: unknown[]): Promise<{ status: number, blockNumber: number }> {
  const data = net.jc.market.interface.encodeFunctionData(fn, args)
  const hash = await net.provider.send('eth_sendTransaction', [{ from, to: net.deployment.contracts.market, data, gas: '0x100000' }]) as string
  const r = (await waitForReceipt(net.provider, hash))
  return { status: r.status ?? 0, blockNumber: r.blockNumber }
}

/** What a draw did, read from the record: a hit starts the audit, a miss is recorded (or settles an accepted deal). */
async function drawOutcome (id: string): Promise<string> {
  const r = await record(id)
  return r.state === 'Challenged' ? 'audited' : r.state === 'Settled' ? 'settled' : (r.mediatorIndex & 1) !== 0 ? 'cleared' : r.state
}

async function blockHash (n: number): Promise<string> {
  return (await net.provider.getBlock(n))!.hash!
}

/** What the chain recorded for the deal, with the submission's block. */
async function record (id: string): Promise<{ state: string, blockNumber: number, mediatorIndex: number }> {
  return await net.jc.dealRecord(id)
}

test.serial('a provider that grinds its CID against all it can see still faces the draw of its block\'s hash, which it cannot know', async t => {
  const { deal, id } = await agreeDeal(net, { auditPpm: HALF })
  // The grinder's best knowledge at submission: the latest block (its hash, prevrandao) and the next block's number.
  const latest = (await net.provider.getBlock('latest'))!
  let cid = ''
  for (let i = 0; i < 64 && cid === ''; i++) {
    const c = `bafy-ground-${i}`
    if (!auditDrawHits(id, cidHash(c), latest.hash!, HALF) && !auditDrawHits(id, cidHash(c), latest.parentHash, HALF)) cid = c
  }
  t.not(cid, '', 'the grinder found a CID that misses under every hash it knew')
  // The same submission (same deal, CID and moment), replayed: the block it lands in differs by what else the
  // proposer put in it, and the draw follows that block's hash alone.
  const seen = new Set<boolean>()
  const at = Number(latest.timestamp) + 5
  for (let round = 0; round < 40 && seen.size < 2; round++) {
    const snap = await net.provider.send('evm_snapshot', []) as string
    await net.provider.send('evm_setNextBlockTimestamp', [at])
    // someone else's transaction in the same block (or none): what else the block holds changes its hash
    await net.provider.send('evm_setAutomine', [false])
    const market = net.deployment.contracts.market
    const submit = await net.provider.send('eth_sendTransaction', [{ from: net.rp.address, to: market, data: net.rp.market.interface.encodeFunctionData('submitResult', [toStruct(deal), cid]), gas: '0x100000' }]) as string
    if (round % 2 === 1) await net.provider.send('eth_sendTransaction', [{ from: net.stranger.address, to: net.deployment.contracts.token, data: net.stranger.token.interface.encodeFunctionData('transfer', [net.jc.address, BigInt(round)]), gas: '0x100000' }])
    await net.provider.send('evm_mine', [])
    await net.provider.send('evm_setAutomine', [true])
    const receipt = (await net.provider.getTransactionReceipt(submit))!
    t.is(receipt.status, 1)
    const s = receipt.blockNumber
    t.is((await record(id)).blockNumber, s, 'the record keeps the submission\'s block')
    t.is((await raw(net.stranger.address, 'drawAudit', [toStruct(deal)])).status, 1)
    const hit = auditDrawHits(id, cidHash(cid), await blockHash(s), HALF)
    t.is(await drawOutcome(id), hit ? 'audited' : 'cleared', 'the draw is the model\'s, from the submission block\'s hash')
    seen.add(hit)
    await net.provider.send('evm_revert', [snap])
  }
  t.is(seen.size, 2, 'the same submission was audited in some blocks and not in others: the provider\'s choices do not decide')
})

test.serial('once the block is made the draw is fixed: drawing later, or letting accept or settle draw, gives the same outcome', async t => {
  for (const cidTag of ['a', 'b', 'c', 'd']) {
    const { deal, id } = await agreeDeal(net, { auditPpm: HALF })
    const cid = `bafy-fixed-${cidTag}`
    const { blockNumber: s } = await net.rp.submitResult(deal, cid)
    const hit = auditDrawHits(id, cidHash(cid), await blockHash(s), HALF)
    const outcomes: string[] = []
    for (const how of ['now', 'later', 'accept', 'settle'] as const) {
      const snap = await net.provider.send('evm_snapshot', []) as string
      if (how === 'later') await net.provider.send('anvil_mine', ['0xc8']) // 200 blocks: still inside the 256
      if (how === 'now' || how === 'later') await raw(net.rp.address, 'drawAudit', [toStruct(deal)])
      if (how === 'accept') await raw(net.jc.address, 'accept', [[toStruct(deal)]])
      if (how === 'settle') { await increaseTime(net.provider, deal.judgeWindow + 1); await raw(net.stranger.address, 'settle', [[toStruct(deal)]]) }
      outcomes.push(await drawOutcome(id))
      await net.provider.send('evm_revert', [snap])
    }
    t.deepEqual(outcomes, hit ? ['audited', 'audited', 'audited', 'audited'] : ['cleared', 'cleared', 'settled', 'settled'])
  }
})

test.serial('past the 256 hashed blocks an undrawn submission is audited; a miss drawn in time holds', async t => {
  // 1 ppm: the draw itself all but never hits, so what happens is the rule for a draw no one made in time
  const { deal: late, id: lateId } = await agreeDeal(net, { auditPpm: 1 })
  const { deal: early, id: earlyId } = await agreeDeal(net, { auditPpm: 1 })
  await net.rp.submitResult(late, 'bafy-late')
  await net.rp.submitResult(early, 'bafy-early')
  t.is((await net.rp.drawAudit(early)).outcome, 'cleared')
  await net.provider.send('anvil_mine', ['0x101'])
  t.is(await reason(net.rp.drawAudit(early)), 'NoAuditDue', 'the miss was recorded: nothing left to draw')
  await net.jc.accept([early, late])
  t.is((await record(earlyId)).state, 'Settled')
  t.is((await record(lateId)).state, 'Challenged', 'waiting past the hashed blocks cannot help a provider whose draw hit')
})

test.serial('no settling transaction skips the draw: an acceptance kept, an accept in the submission\'s own block refused', async t => {
  const { deal, id } = await agreeDeal(net, { auditPpm: 1_000_000 })
  const cid = 'bafy-same-block'
  const acceptance = await signMessage('Accept', net.domain, { dealId: id, resultCid: cid }, net.jc.wallet)
  const before = await marketBalances(net, [net.jc.address, net.rp.address])
  // the submission with the acceptance, and the job creator's accept in the same block: the draw is not made yet
  const market = net.deployment.contracts.market
  await net.provider.send('evm_setAutomine', [false])
  const submitted = await net.provider.send('eth_sendTransaction', [{ from: net.rp.address, to: market, data: net.rp.market.interface.encodeFunctionData('submitAcceptedResult', [toStruct(deal), cid, acceptance]), gas: '0x100000' }]) as string
  const accepted = await net.provider.send('eth_sendTransaction', [{ from: net.jc.address, to: market, data: net.jc.market.interface.encodeFunctionData('accept', [[toStruct(deal)]]), gas: '0x100000' }]) as string
  await net.provider.send('evm_mine', [])
  await net.provider.send('evm_setAutomine', [true])
  t.is((await net.provider.getTransactionReceipt(submitted))!.status, 1)
  t.is((await net.provider.getTransactionReceipt(accepted))!.status, 0)
  const traced = await net.provider.send('debug_traceTransaction', [accepted, { disableStorage: true, disableStack: true, disableMemory: true }]) as { returnValue?: string }
  t.is(decodeRevert(traced.returnValue === undefined || traced.returnValue.startsWith('0x') ? traced.returnValue : `0x${traced.returnValue}`)?.name, 'AuditDrawNotReady', 'an accept in the submission\'s own block cannot draw')
  t.is((await record(id)).state, 'ResultSubmitted', 'the acceptance is kept, the deal not settled')
  t.deepEqual(await marketBalances(net, [net.jc.address, net.rp.address]), before, 'nobody was paid')
  const drawn = await net.stranger.drawAudit(deal)
  t.is(drawn.outcome, 'audited')
  t.is((await record(id)).state, 'Challenged')
})

test.serial('a deal without audits keeps its two transactions: the acceptance settles at once and there is nothing to draw', async t => {
  const { deal, id } = await agreeDeal(net, { auditPpm: 0 })
  const cid = 'bafy-no-audits'
  const r = await net.rp.submitAcceptedResult(deal, cid, await signMessage('Accept', net.domain, { dealId: id, resultCid: cid }, net.jc.wallet))
  t.true(r.settled)
  const { deal: other } = await agreeDeal(net, { auditPpm: 0 })
  await net.rp.submitResult(other, 'bafy-plain')
  t.is(await reason(net.stranger.drawAudit(other)), 'NoAuditDue')
})
