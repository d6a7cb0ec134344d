// Reputation from outcomes: the score's values, what lifts and what sinks a provider, standing, and that the
// incremental book equals the pure records whatever order the facts come in.
import test from 'ava'
import fc from 'fast-check'
import { reputationScore, standingOf, chainRecords, emptyChainRecord, UNKNOWN_SCORE, type ChainRecord } from './score.ts'
import { ReputationBook } from './book.ts'
import { BanList } from '../policy/ban.ts'
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
})

test('standing: demoted under 0.45, banned under 0.25 with enough evidence', t => {
  t.is(standingOf(emptyChainRecord()), 'ok')
  t.is(standingOf(rec({ canaryPassed: 3 })), 'ok')
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

test('the book equals the pure records for any order of the same facts, counts a fact delivered twice once, and keeps all of it through a snapshot taken anywhere', t => {
  const arb = fc.record({
    deals: fc.array(fc.record({ p: fc.integer({ min: 0, max: 2 }), jc: fc.integer({ min: 0, max: 1 }), state: fc.constantFrom('Settled', 'MediatedCorrect', 'MediatedWrong', 'TimedOutResult', 'TimedOutMediation') as fc.Arbitrary<DealOutcome['state']>, audited: fc.boolean() }), { maxLength: 30 }),
    canaries: fc.uniqueArray(fc.record({ deal: fc.integer({ min: 0, max: 40 }), p: fc.integer({ min: 0, max: 2 }), outcome: fc.constantFrom(1, 1, 2, 3, 4) as fc.Arbitrary<CanaryOutcomeValue>, honestParties: fc.boolean() }), { maxLength: 15, selector: c => c.deal }),
    order: fc.array(fc.nat(), { minLength: 60, maxLength: 60 }),
    cut: fc.nat({ max: 80 })
  })
  t.notThrows(() => fc.assert(fc.property(arb, ({ deals: ds, canaries: cs, order, cut }) => {
    const { deals, canaries } = facts({ deals: ds, canaries: cs })
    const expected = chainRecords(deals, canaries.map(x => x.c), new Map(canaries.flatMap(x => x.parties !== undefined ? [[x.c.dealId, x.parties] as const] : [])))
    const items: Array<() => void> = []
    let book = new ReputationBook()
    for (const d of deals) items.push(() => { book.addOutcome(d) }, () => { book.addOutcome(d) })
    for (const c of canaries) items.push(() => { book.addCanary(c.c, c.parties) })
    items.map((f, i) => [f, order[i % order.length] * 1000 + i] as const).sort((a, b) => a[1] - b[1]).forEach(([f], i) => {
      // a node stopped here and started again from the state it kept
      if (i === cut) book = ReputationBook.restore(JSON.parse(JSON.stringify(book.snapshot())))
      f()
    })
    for (const p of PROVIDERS) {
      const want = expected.get(p) ?? emptyChainRecord()
      if (JSON.stringify(book.record(p)) !== JSON.stringify(want)) return false
      if (book.score(p) !== (expected.has(p) ? reputationScore(want) : UNKNOWN_SCORE)) return false
    }
    return true
  }), { numRuns: 300 }))
})

test('a snapshot that is not one is refused with a named error', t => {
  const good = new ReputationBook()
  good.addOutcome({ dealId: id(1), provider: PROVIDERS[0], jobCreator: JCS[0], price: 1n, auditPpm: 0, audited: false, challenged: false, state: 'Settled', closedBlock: 1 })
  const s = good.snapshot()
  t.deepEqual(ReputationBook.restore(JSON.parse(JSON.stringify(s))).record(PROVIDERS[0]), good.record(PROVIDERS[0]))
  for (const bad of [null, 7, {}, { ...s, v: 2 }, { ...s, records: [[PROVIDERS[0], { settled: 'x' }]] }, { ...s, outcomes: [[id(1), { ...s.outcomes[0][1], state: 'Stolen' }]] }, { ...s, reports: [1] }]) {
    t.throws(() => ReputationBook.restore(bad), { name: 'ReputationBookStateError' }, JSON.stringify(bad))
  }
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

test('one standing: the ban list takes the chain record as its source; the worse of the two applies, and only its own part lapses', t => {
  const book = new ReputationBook()
  const bans = new BanList({ ttlMs: 1000 }, book)
  const [a, b, c] = PROVIDERS
  const deal = (n: number, p: string, state: DealOutcome['state']): DealOutcome => ({ dealId: id(n), provider: p, jobCreator: JCS[0], price: 1n, auditPpm: 0, audited: false, challenged: false, state, closedBlock: n })
  // a: slashed on chain (banned there); b: one result timeout (demoted there); c: a clean record
  book.addOutcome(deal(1, a, 'MediatedWrong'))
  book.addOutcome(deal(2, b, 'TimedOutResult'))
  book.addOutcome(deal(3, c, 'Settled'))
  t.is(book.standing(a), 'banned')
  t.is(book.standing(b), 'demoted')
  t.is(bans.standing(a, 0), 'banned', 'banned on chain: banned for this job creator with no failure of its own')
  t.is(bans.standing(b, 0), 'demoted')
  t.is(bans.standing(c, 0), 'ok')
  t.is(bans.bannedCount(0), 1)
  t.deepEqual(bans.rank([a, b, c], x => x, 0), [c, b], 'chain-banned dropped, chain-demoted asked last')
  // c declines once: demoted by this job creator's own memory, which lapses after its TTL; the chain's part does not
  t.is(bans.record(c, 'declined', 0), 'demoted')
  t.deepEqual(bans.rank([a, b, c], x => x, 10), [b, c])
  t.is(bans.standing(c, 1000), 'ok')
  t.is(bans.standing(b, 1_000_000), 'demoted', 'the chain record does not lapse')
  // b unreachable twice: banned by its own memory (2 points), the worse of the two
  t.is(bans.record(b, 'unreachable', 0), 'demoted')
  t.is(bans.record(b, 'unreachable', 0), 'banned')
  t.is(bans.bannedCount(0), 2)
  t.is(bans.standing(b, 1000), 'demoted', 'its own ban lapsed, the chain demotion stays')
})

test('a stranger minting fresh addresses deal after deal leaves the book bounded: outcomes, reports and the shared address strings', t => {
  const max = 10
  const book = new ReputationBook({ maxRemembered: max })
  let peak = 0
  for (let n = 1; n <= 2_000; n++) {
    book.addOutcome({ dealId: id(n), provider: addr(100_000 + n), jobCreator: addr(200_000 + n), price: 1n, auditPpm: 0, audited: false, challenged: false, state: 'Settled', closedBlock: n })
    book.addCanary({ reportId: id(900_000 + n), epoch: 1, provider: addr(100_000 + n), validator: addr(50), dealId: id(500_000 + n), outcome: CanaryOutcome.Passed, units: 1000, observedAt: 0 })
    peak = Math.max(peak, book.sizes().addresses)
  }
  const s = book.sizes()
  t.is(s.outcomes, max)
  t.is(s.reports, max)
  t.is(s.canaryDeals, max)
  t.true(peak <= 4 * max, `the address table peaked at ${peak}`)
  // what the book counts is untouched by forgetting: every provider keeps its record
  t.is(s.providers, 2_000)
  t.is(book.record(addr(100_001)).settled, 1)
  // the remembered outcomes' addresses are still in the table after a rebuild (a snapshot round trip keeps them)
  const again = ReputationBook.restore(book.snapshot(), { maxRemembered: max })
  t.deepEqual(again.snapshot(), book.snapshot())
  t.true(again.sizes().addresses <= 2 * max)
})
