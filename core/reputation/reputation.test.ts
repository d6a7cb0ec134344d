// Reputation from outcomes: the score's values, what lifts and what sinks a provider, standing, and that the
// incremental book equals the pure records whatever order the facts come in.
import test from 'ava'
import fc from 'fast-check'
import { reputationScore, standingOf, chainRecords, emptyChainRecord, UNKNOWN_SCORE, type ChainRecord } from './score.ts'
import { ReputationBook } from './book.ts'
import { CanaryOutcome, type CanaryOutcomeValue } from '../../protocols/incentives/canary-report.ts'
import type { CanaryRecord, DealOutcome, DealParties } from '../../protocols/incentives/outcomes.ts'

const rec = (o: Partial<ChainRecord>): ChainRecord => ({ ...emptyChainRecord(), ...o })
const addr = (n: number): string => '0x' + n.toString(16).padStart(40, '0')
const id = (n: number): string => '0x' + n.toString(16).padStart(64, '0')

test('scores: unknown in the middle, canaries lift a provider that has run nothing, bad outcomes weigh more', t => {
  t.is(reputationScore(emptyChainRecord()), UNKNOWN_SCORE)
  t.is(reputationScore(rec({ canaryPassed: 1 })), 666_666)
  t.is(reputationScore(rec({ canaryPassed: 8 })), 900_000)
  t.is(reputationScore(rec({ canaryFailed: 1 })), 250_000)
  t.is(reputationScore(rec({ slashed: 1 })), 166_666)
  t.true(reputationScore(rec({ settled: 10, jobCreators: 3, slashed: 1 })) < reputationScore(rec({ settled: 10, jobCreators: 3, timedOut: 1 })))
  t.true(reputationScore(rec({ upheld: 2, auditsPassed: 2 })) > reputationScore(rec({ upheld: 2 })), 'a random audit passed counts on top')
  // settled deals count at most ten per job creator: a hundred deals with one's own job creator build little
  t.is(reputationScore(rec({ settled: 100, jobCreators: 1 })), reputationScore(rec({ settled: 10, jobCreators: 1 })))
  t.true(reputationScore(rec({ settled: 100, jobCreators: 10 })) > reputationScore(rec({ settled: 100, jobCreators: 1 })))
  // local experience: this node's view only
  t.is(reputationScore(emptyChainRecord(), { declined: 0, unreachable: 1 }), 250_000)
})

test('standing: demoted under 0.45, banned under 0.25 with enough evidence', t => {
  t.is(standingOf(emptyChainRecord()), 'ok')
  t.is(standingOf(rec({ canaryPassed: 3 })), 'ok')
  t.is(standingOf(emptyChainRecord(), { declined: 1, unreachable: 0 }), 'demoted', 'one decline: asked last, not dropped')
  t.is(standingOf(rec({ canaryFailed: 1 })), 'demoted', 'one failed canary is not yet enough evidence to ban')
  t.is(standingOf(rec({ canaryFailed: 2 })), 'banned')
  t.is(standingOf(rec({ slashed: 1 })), 'banned')
  t.is(standingOf(rec({ settled: 40, jobCreators: 8, slashed: 1 })), 'ok', 'one slash among many good deals')
})

const PROVIDERS = [addr(1), addr(2), addr(3)]
const JCS = [addr(11), addr(12)]

function facts (spec: { deals: Array<{ p: number, jc: number, state: DealOutcome['state'], audited: boolean }>, canaries: Array<{ deal: number, p: number, outcome: CanaryOutcomeValue, honestParties: boolean }> }): { deals: DealOutcome[], canaries: Array<{ c: CanaryRecord, parties?: DealParties }> } {
  const deals = spec.deals.map((d, i) => ({ dealId: id(i + 1), provider: PROVIDERS[d.p], jobCreator: JCS[d.jc], price: 1n, auditPpm: 0, audited: d.audited, challenged: false, state: d.state, closedBlock: i }))
  const canaries = spec.canaries.map((c, i) => {
    const dealId = c.outcome === CanaryOutcome.Unreachable ? id(0) : id(c.deal + 1)
    // a deal has one set of parties (its DealAgreed): a report about another provider's deal names a deal whose provider differs
    const parties = dealId === id(0) ? undefined : { provider: c.honestParties ? PROVIDERS[c.p] : addr(99), jobCreator: JCS[0] }
    return { c: { reportId: id(10_000 + i), epoch: 1, provider: PROVIDERS[c.p], validator: addr(50), dealId, outcome: c.outcome, units: 1000, observedAt: 0 }, parties }
  })
  return { deals, canaries }
}

test('the book equals the pure records for any order of the same facts, and counts a fact delivered twice once', t => {
  const arb = fc.record({
    deals: fc.array(fc.record({ p: fc.integer({ min: 0, max: 2 }), jc: fc.integer({ min: 0, max: 1 }), state: fc.constantFrom('Settled', 'MediatedCorrect', 'MediatedWrong', 'TimedOutResult', 'TimedOutMediation') as fc.Arbitrary<DealOutcome['state']>, audited: fc.boolean() }), { maxLength: 30 }),
    canaries: fc.uniqueArray(fc.record({ deal: fc.integer({ min: 0, max: 40 }), p: fc.integer({ min: 0, max: 2 }), outcome: fc.constantFrom(1, 1, 2, 3, 4) as fc.Arbitrary<CanaryOutcomeValue>, honestParties: fc.boolean() }), { maxLength: 15, selector: c => c.deal }),
    order: fc.array(fc.nat(), { minLength: 60, maxLength: 60 })
  })
  t.notThrows(() => fc.assert(fc.property(arb, ({ deals: ds, canaries: cs, order }) => {
    const { deals, canaries } = facts({ deals: ds, canaries: cs })
    const expected = chainRecords(deals, canaries.map(x => x.c), new Map(canaries.flatMap(x => x.parties !== undefined ? [[x.c.dealId, x.parties] as const] : [])))
    const items: Array<() => void> = []
    const book = new ReputationBook()
    for (const d of deals) items.push(() => { book.addOutcome(d) }, () => { book.addOutcome(d) })
    for (const c of canaries) items.push(() => { book.addCanary(c.c, c.parties) })
    items.map((f, i) => [f, order[i % order.length] * 1000 + i] as const).sort((a, b) => a[1] - b[1]).forEach(([f]) => { f() })
    for (const p of PROVIDERS) {
      const want = expected.get(p) ?? emptyChainRecord()
      if (JSON.stringify(book.record(p)) !== JSON.stringify(want)) return false
      if (book.score(p) !== (expected.has(p) ? reputationScore(want) : UNKNOWN_SCORE)) return false
    }
    return true
  }), { numRuns: 300 }))
})

test('a deal later revealed as a canary leaves the ordinary counts; the scores map changes identity only on change', t => {
  const book = new ReputationBook()
  const d: DealOutcome = { dealId: id(5), provider: PROVIDERS[0], jobCreator: JCS[0], price: 1n, auditPpm: 0, audited: false, challenged: false, state: 'Settled', closedBlock: 1 }
  t.true(book.addOutcome(d))
  t.false(book.addOutcome(d))
  t.is(book.record(PROVIDERS[0]).settled, 1)
  const m1 = book.scores()
  t.is(book.scores(), m1)
  t.true(book.addCanary({ reportId: id(77), epoch: 1, provider: PROVIDERS[0], validator: addr(50), dealId: id(5), outcome: CanaryOutcome.Passed, units: 1000, observedAt: 0 }, { provider: PROVIDERS[0], jobCreator: JCS[0] }))
  t.deepEqual(book.record(PROVIDERS[0]), { ...emptyChainRecord(), canaryPassed: 1 })
  t.not(book.scores(), m1)
  t.is(book.scores().get(PROVIDERS[0]), 666_666)
  t.deepEqual(book.providers(), [PROVIDERS[0]])
  t.is(book.standing(addr(42)), 'ok', 'unknown providers are not held back')
})
