// Every transition and timeout path of the Market on a real anvil, with the ledger balance of every party.
import test from 'ava'
import { startDevnet, agreeDeal, increaseTime, marketBalances, marketTokenBalance, LP, idOf, type Devnet } from '../fixture.ts'
import { type Deal } from '../../protocols/eip712.ts'
import type { ChainClient } from '../../node/chain/index.ts'

let net: Devnet
test.before(async () => { net = await startDevnet() })
test.after.always(async () => { await net?.stop() })

const P = LP(10)
const C = LP(20)
const F = LP(2)

/** Deltas of [jc, rp, m1, m2, market token balance] across `run`. */
async function deltas (run: () => Promise<void>): Promise<bigint[]> {
  const who = [net.jc.address, net.rp.address, net.m1.address, net.m2.address]
  const before = [...await marketBalances(net, who), await marketTokenBalance(net)]
  await run()
  const after = [...await marketBalances(net, who), await marketTokenBalance(net)]
  return after.map((v, i) => v - before[i])
}

function mediatorClient (addr: string): ChainClient {
  return addr === net.m1.address ? net.m1 : net.m2
}

// (the Deal's type hash getter went to make room for the seed reveals: a different type hash gives a different id)
test.serial('the Deal id matches protocols/eip712.ts', async t => {
  const { deal, id } = await agreeDeal(net)
  t.is(await net.jc.market.dealId(deal), idOf('Deal', net.domain, deal))
  t.is(id, idOf('Deal', net.domain, deal))
  t.is((await net.jc.dealRecord(id)).state, 'Agreed')
})

// DealHashing.structHash reads the deal from calldata in assembly: it must hash exactly what ethers' EIP-712 encoder
// hashes for any number of mediators and the widest values, and refuse what Solidity's decoder refuses.
test.serial('the deal id matches protocols/eip712.ts for 0..5 mediators and extreme values; malformed calldata reverts', async t => {
  const base = (await agreeDeal(net)).deal
  const max = (bits: number): bigint => (1n << BigInt(bits)) - 1n
  const many = [net.m1.address, net.m2.address, net.jc.address, net.rp.address, net.stranger.address]
  for (let n = 0; n <= 5; n++) {
    for (const wide of [false, true]) {
      const deal: Deal = wide
        ? { ...base, mediators: many.slice(0, n), jobOfferId: '0x' + 'ff'.repeat(32), resourceOfferId: '0x' + 'ee'.repeat(32), price: max(96), collateral: max(96), mediationFee: max(96), auditPpm: Number(max(32)), resultTimeout: Number(max(32)), judgeWindow: Number(max(32)), mediateTimeout: Number(max(32)), expiry: max(64), nonce: max(64) }
        : { ...base, mediators: many.slice(0, n), price: 0n, collateral: 0n, mediationFee: 0n, auditPpm: 0, expiry: 0n, nonce: 0n }
      t.is(await net.jc.market.dealId(deal), idOf('Deal', net.domain, deal), `${n} mediators, ${wide ? 'widest' : 'zero'} values`)
    }
  }
  const market = net.jc.market
  const data = market.interface.encodeFunctionData('dealId', [base])
  const words = (hex: string): string[] => hex.slice(10).match(/.{64}/g)!
  const call = async (w: string[]): Promise<string> => await net.provider.call({ to: await market.getAddress(), data: data.slice(0, 10) + w.join('') })
  t.is(await call(words(data)), idOf('Deal', net.domain, base), 'the unmodified calldata hashes as before')
  // word 0 is the tuple's offset; the struct's fields start at word 1 (jobCreator = word 3, price = word 6, expiry = 13)
  const dirty = (index: number, w: string[]): string[] => w.map((x, i) => i === index ? '01' + x.slice(2) : x)
  for (const [field, index] of [['jobCreator', 3], ['resourceProvider', 4], ['price', 6], ['auditPpm', 9], ['expiry', 13], ['nonce', 14]] as const) {
    await t.throwsAsync(call(dirty(index, words(data))), undefined, `${field} with bits beyond its type`)
  }
  const w = words(data)
  const mediatorsAt = 1 + Number(BigInt('0x' + w[5])) / 32 // the array's length word
  await t.throwsAsync(call(dirty(mediatorsAt + 1, w)), undefined, 'a mediator with bits beyond an address')
  await t.throwsAsync(call(w.map((x, i) => i === mediatorsAt ? (1000n).toString(16).padStart(64, '0') : x)), undefined, 'a mediators array longer than the calldata')
  await t.throwsAsync(call(w.map((x, i) => i === 5 ? (1n << 70n).toString(16).padStart(64, '0') : x)), undefined, 'a mediators offset out of range')
})

test.serial('agree locks price + fee from the job creator and collateral from the provider', async t => {
  const d = await deltas(async () => { await agreeDeal(net) })
  t.deepEqual(d, [-(P + F), -C, 0n, 0n, 0n])
})

test.serial('happy path: result, early accept by the job creator', async t => {
  let deal: Deal | undefined
  const d = await deltas(async () => {
    ({ deal } = await agreeDeal(net))
    await net.rp.submitResult(deal, 'bafy-happy')
    await net.jc.accept([deal])
  })
  t.deepEqual(d, [-P, P, 0n, 0n, 0n])
  t.is((await net.jc.dealRecord(net.jc.dealId(deal!))).state, 'Settled')
})

test.serial('judge window passes: anyone settles, a batch of three at once', async t => {
  const deals: Deal[] = []
  const d = await deltas(async () => {
    for (let i = 0; i < 3; i++) {
      const { deal } = await agreeDeal(net)
      await net.rp.submitResult(deal, `bafy-batch-${i}`)
      deals.push(deal)
    }
    const early = await t.throwsAsync(net.stranger.settle(deals))
    t.is(early?.name, 'ContractRevertError')
    t.is((early as unknown as { reason: string }).reason, 'JudgeWindowOpen')
    await increaseTime(net.provider, 301)
    await net.stranger.settle(deals)
  })
  t.deepEqual(d, [-3n * P, 3n * P, 0n, 0n, 0n])
})

test.serial('a busy provider settles its earlier deals in the same transaction as its next result', async t => {
  const d = await deltas(async () => {
    const { deal: first } = await agreeDeal(net)
    await net.rp.submitResult(first, 'bafy-first')
    const { deal: second } = await agreeDeal(net)
    const early = await t.throwsAsync(net.rp.submitResult(second, 'bafy-second', { settle: [first] }))
    t.is((early as unknown as { reason: string }).reason, 'JudgeWindowOpen')
    await increaseTime(net.provider, 301)
    await net.rp.submitResult(second, 'bafy-second', { settle: [first] })
    t.is((await net.jc.dealRecord(net.jc.dealId(first))).state, 'Settled')
    t.is((await net.jc.dealRecord(net.jc.dealId(second))).state, 'ResultSubmitted')
    await net.jc.accept([second])
  })
  t.deepEqual(d, [-2n * P, 2n * P, 0n, 0n, 0n])
})

test.serial('challenge, mediator says the result is correct: provider paid, mediator paid from the fee', async t => {
  let mediator = ''
  const d = await deltas(async () => {
    const { deal } = await agreeDeal(net)
    await net.rp.submitResult(deal, 'bafy-right')
    mediator = await net.jc.challenge(deal)
    t.is((await net.jc.dealRecord(net.jc.dealId(deal))).state, 'Challenged')
    await mediatorClient(mediator).mediate(deal, true)
  })
  const m = [mediator === net.m1.address ? F : 0n, mediator === net.m2.address ? F : 0n]
  t.deepEqual(d, [-(P + F), P, m[0], m[1], 0n])
})

test.serial('challenge, mediator says the result is wrong: collateral slashed, job creator refunded', async t => {
  let mediator = ''
  const d = await deltas(async () => {
    const { deal } = await agreeDeal(net)
    await net.rp.submitResult(deal, 'bafy-wrong')
    mediator = await net.jc.challenge(deal)
    await mediatorClient(mediator).mediate(deal, false)
  })
  const m = [mediator === net.m1.address ? F : 0n, mediator === net.m2.address ? F : 0n]
  // The job creator gets price + fee back plus the collateral minus the mediator's fee.
  t.deepEqual(d, [C - F, -C, m[0], m[1], 0n])
})

test.serial('no result before the result timeout: job creator takes everything', async t => {
  const d = await deltas(async () => {
    const { deal } = await agreeDeal(net)
    const early = await t.throwsAsync(net.stranger.timeoutResult(deal))
    t.is((early as unknown as { reason: string }).reason, 'ResultWindowOpen')
    await increaseTime(net.provider, 601)
    const late = await t.throwsAsync(net.rp.submitResult(deal, 'bafy-late'))
    t.is((late as unknown as { reason: string }).reason, 'ResultWindowClosed')
    await net.stranger.timeoutResult(deal)
    t.is((await net.jc.dealRecord(net.jc.dealId(deal))).state, 'TimedOutResult')
  })
  t.deepEqual(d, [C, -C, 0n, 0n, 0n])
})

test.serial('no verdict before the mediation timeout: result stands, job creator gets the fee back', async t => {
  const d = await deltas(async () => {
    const { deal } = await agreeDeal(net)
    await net.rp.submitResult(deal, 'bafy-unjudged')
    const mediator = await net.jc.challenge(deal)
    const early = await t.throwsAsync(net.stranger.timeoutMediation(deal))
    t.is((early as unknown as { reason: string }).reason, 'MediationWindowOpen')
    await increaseTime(net.provider, 901)
    const late = await t.throwsAsync(mediatorClient(mediator).mediate(deal, false))
    t.is((late as unknown as { reason: string }).reason, 'MediationWindowClosed')
    await net.stranger.timeoutMediation(deal)
  })
  t.deepEqual(d, [-P, P, 0n, 0n, 0n])
})

test.serial('a certain audit: the draw, by anyone from the next block on, sends the result to mediation', async t => {
  let mediator = ''
  const d = await deltas(async () => {
    const { deal, id } = await agreeDeal(net, { auditPpm: 1_000_000 })
    await net.rp.submitResult(deal, 'bafy-audited')
    t.is((await net.jc.dealRecord(id)).state, 'ResultSubmitted')
    const r = await net.stranger.drawAudit(deal)
    if (r.outcome !== 'audited') throw new Error(`drew ${r.outcome}`)
    mediator = r.mediator
    t.true([net.m1.address, net.m2.address].includes(mediator))
    t.is((await net.jc.dealRecord(id)).state, 'Challenged')
    await mediatorClient(mediator).mediate(deal, true)
  })
  const m = [mediator === net.m1.address ? F : 0n, mediator === net.m2.address ? F : 0n]
  t.deepEqual(d, [-(P + F), P, m[0], m[1], 0n])
})

test.serial('deposit and withdraw move tokens between wallet and ledger', async t => {
  const wallet0 = await net.stranger.tokenBalance()
  await net.stranger.deposit(LP(5))
  t.is(await net.stranger.depositOf(), LP(5))
  await net.stranger.withdraw(LP(3))
  t.is(await net.stranger.depositOf(), LP(2))
  t.is(await net.stranger.tokenBalance(), wallet0 - LP(2))
  const err = await t.throwsAsync(net.stranger.withdraw(LP(3)))
  t.is((err as unknown as { reason: string }).reason, 'InsufficientBalance')
  await net.stranger.withdraw(LP(2))
  t.is(await net.stranger.depositOf(), 0n)
})
