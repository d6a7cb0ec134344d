// The pure settlement model on its own (its agreement with the contract is proved in contracts/test/property.test.ts).
import test from 'ava'
import { keccak256, toBeHex } from 'ethers'
import { apply, emptyMarket, depositOf, totalHeld, payoutsOf, heldBy, DealState, type DealTerms, type MarketModel, type DealStateValue } from './index.ts'

const JC = '0x00000000000000000000000000000000000000a1'
const RP = '0x00000000000000000000000000000000000000b2'
const M1 = '0x00000000000000000000000000000000000000c3'
const M2 = '0x00000000000000000000000000000000000000c4'

function terms (nonce: bigint, o: Partial<DealTerms> = {}): DealTerms {
  return { jobCreator: JC, resourceProvider: RP, mediators: [M1, M2], price: 10n, collateral: 20n, mediationFee: 2n, auditPpm: 0, resultTimeout: 100, judgeWindow: 50, mediateTimeout: 70, expiry: 10_000n, nonce, ...o }
}

function funded (): MarketModel {
  const m = emptyMarket([M1, M2])
  apply(m, { kind: 'deposit', account: JC, amount: 1_000_000n }, { now: 0 })
  apply(m, { kind: 'deposit', account: RP, amount: 1_000_000n }, { now: 0 })
  return m
}

test('every final state pays out exactly what the deal held', t => {
  const d = terms(1n)
  const finals: DealStateValue[] = [DealState.Settled, DealState.MediatedCorrect, DealState.MediatedWrong, DealState.TimedOutResult, DealState.TimedOutMediation]
  for (const s of finals) {
    const paid = payoutsOf(s, d, M1).reduce((sum, p) => sum + p.amount, 0n)
    t.is(paid, heldBy({ state: DealState.Agreed, since: 0, mediatorIndex: 0, block: 0, resultHash: null }, d), `state ${s}`)
  }
})

test('a happy deal moves the price from job creator to provider', t => {
  const m = funded()
  const d = terms(1n)
  const at = (now: number): { now: number } => ({ now })
  t.true(apply(m, { kind: 'agree', dealId: '0x01', terms: d }, at(1)).ok)
  t.deepEqual(apply(m, { kind: 'settle', deals: [{ dealId: '0x01', terms: d }] }, at(2)), { ok: false, error: 'WrongState' })
  t.true(apply(m, { kind: 'submitResult', caller: RP, dealId: '0x01', terms: d, cid: 'bafy' }, at(50)).ok)
  t.deepEqual(apply(m, { kind: 'settle', deals: [{ dealId: '0x01', terms: d }] }, at(100)), { ok: false, error: 'JudgeWindowOpen' })
  t.true(apply(m, { kind: 'settle', deals: [{ dealId: '0x01', terms: d }] }, at(101)).ok)
  t.is(depositOf(m, JC), 1_000_000n - 10n)
  t.is(depositOf(m, RP), 1_000_000n + 10n)
  t.deepEqual(apply(m, { kind: 'settle', deals: [{ dealId: '0x01', terms: d }] }, at(200)), { ok: false, error: 'DealClosed' })
})

test('a batch is all or nothing, and sees a deal listed twice', t => {
  const m = funded()
  const d = terms(1n)
  apply(m, { kind: 'agree', dealId: '0x01', terms: d }, { now: 1 })
  apply(m, { kind: 'submitResult', caller: RP, dealId: '0x01', terms: d, cid: 'bafy' }, { now: 2 })
  const before = structuredClone([...m.deposits])
  t.deepEqual(apply(m, { kind: 'accept', caller: JC, deals: [{ dealId: '0x01', terms: d }, { dealId: '0x01', terms: d }] }, { now: 3 }), { ok: false, error: 'DealClosed' })
  t.deepEqual([...m.deposits], before)
  t.is(m.deals.get('0x01')?.state, DealState.ResultSubmitted)
})

test('10,000 deals through agree, result and batched settlement conserve funds; the settlement draws the audits', t => {
  const m = funded()
  const all = new Map<string, DealTerms>()
  const start = totalHeld(m, all)
  const batch: Array<{ dealId: string, terms: DealTerms }> = []
  for (let i = 0; i < 10_000; i++) {
    const id = `0x${i.toString(16).padStart(64, '0')}`
    const d = terms(BigInt(i + 1), { auditPpm: i % 10 === 0 ? 500_000 : 0 })
    all.set(id, d)
    if (!apply(m, { kind: 'agree', dealId: id, terms: d }, { now: 10 }).ok) throw new Error('agree failed')
    apply(m, { kind: 'submitResult', caller: RP, dealId: id, terms: d, cid: `bafy${i}` }, { now: 20, number: 100 })
    if (m.deals.get(id)?.state === DealState.ResultSubmitted) batch.push({ dealId: id, terms: d })
  }
  t.is(batch.length, 10_000, 'a submission draws nothing: its block\'s hash is not known yet')
  t.is(totalHeld(m, all), start)
  const hashOf = (n: number): string => keccak256(toBeHex(n, 32))
  t.true(apply(m, { kind: 'settle', deals: batch }, { now: 1000, number: 101, blockHashOf: hashOf }).ok)
  const audited = [...all.keys()].filter(id => m.deals.get(id)?.state === DealState.Challenged)
  for (const id of audited) apply(m, { kind: 'timeoutMediation', dealId: id, terms: all.get(id)! }, { now: 2000 })
  t.is(totalHeld(m, all), start)
  t.true([...m.deals.values()].every(r => r.state >= DealState.Settled))
  t.true(audited.length > 400 && audited.length < 600, `about half of the tenth with audits at 50 % were drawn: ${audited.length}`) 
})

test('bounds: checked after expiry, in the contract\'s order, only when the model has them', t => {
  const bounds = { minResultTimeout: 60, maxResultTimeout: 1000, minJudgeWindow: 60, maxJudgeWindow: 1000, minMediateTimeout: 60, maxMediateTimeout: 1000, maxDealTtl: 600, minMediationFee: 1n }
  const m = emptyMarket([M1, M2], bounds)
  apply(m, { kind: 'deposit', account: JC, amount: 1000n }, { now: 0 })
  apply(m, { kind: 'deposit', account: RP, amount: 1000n }, { now: 0 })
  const at = { now: 100 }
  const ok = terms(1n, { resultTimeout: 60, judgeWindow: 60, mediateTimeout: 60, expiry: 700n })
  t.deepEqual(apply(m, { kind: 'agree', dealId: '0x01', terms: { ...ok, resultTimeout: 0 } }, at), { ok: false, error: 'ResultTimeoutOutOfBounds' })
  t.deepEqual(apply(m, { kind: 'agree', dealId: '0x01', terms: { ...ok, expiry: 701n } }, at), { ok: false, error: 'DealExpiryTooFar' })
  t.deepEqual(apply(m, { kind: 'agree', dealId: '0x01', terms: { ...ok, expiry: 99n, resultTimeout: 0 } }, at), { ok: false, error: 'DealExpired' })
  t.deepEqual(apply(m, { kind: 'agree', dealId: '0x01', terms: { ...ok, judgeWindow: 1001 } }, at), { ok: false, error: 'JudgeWindowOutOfBounds' })
  t.deepEqual(apply(m, { kind: 'agree', dealId: '0x01', terms: { ...ok, mediateTimeout: 59 } }, at), { ok: false, error: 'MediateTimeoutOutOfBounds' })
  t.deepEqual(apply(m, { kind: 'agree', dealId: '0x01', terms: { ...ok, auditPpm: 1_000_001 } }, at), { ok: false, error: 'AuditPpmTooHigh' })
  t.deepEqual(apply(m, { kind: 'agree', dealId: '0x01', terms: { ...ok, mediationFee: 0n } }, at), { ok: false, error: 'MediationFeeTooLow' })
  t.true(apply(m, { kind: 'agree', dealId: '0x01', terms: ok }, at).ok)
  const loose = funded()
  t.true(apply(loose, { kind: 'agree', dealId: '0x02', terms: terms(2n, { resultTimeout: 0, mediationFee: 0n, auditPpm: 5 }) }, at).ok, 'a model without bounds keeps the old rules')
  const feeless = emptyMarket([M1], { ...bounds, minMediationFee: 0n })
  apply(feeless, { kind: 'deposit', account: JC, amount: 1000n }, { now: 0 })
  t.deepEqual(apply(feeless, { kind: 'agree', dealId: '0x03', terms: { ...ok, mediators: [M1], mediationFee: 0n, auditPpm: 1 } }, at), { ok: false, error: 'AuditWithoutFee' })
})
