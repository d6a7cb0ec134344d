import test from 'ava'
import { nextAttemptAt, attemptBudgetMs, backoffMs, defaultRetryPolicy, type RetryPolicy } from './retry.ts'
import { BanList, afterProposal } from './ban.ts'
import { AnnounceSchedule } from './announce.ts'
import { queueDecision, fittingProviders } from './queue.ts'

const P: RetryPolicy = { initialMs: 100, maxMs: 1000, factor: 2, attemptTimeoutMs: 5000, finalLeadMs: 300 }

test('retry: exponential backoff up to its cap', t => {
  t.deepEqual([1, 2, 3, 4, 5, 6].map(n => backoffMs(P, n)), [100, 200, 400, 800, 1000, 1000])
})

test('retry: never gives up while an attempt fits before the deadline, never busy-loops, stops at the deadline', t => {
  // far from the deadline: the plain backoff
  t.is(nextAttemptAt(P, 1, 0, 10_000), 100)
  t.is(nextAttemptAt(P, 5, 0, 10_000), 1000)
  // the backoff would overshoot the last useful moment: one attempt exactly finalLeadMs before the deadline
  t.is(nextAttemptAt(P, 5, 9000, 10_000), 9700)
  // inside the last stretch: the backoff again while it lands before the deadline
  t.is(nextAttemptAt(P, 1, 9750, 10_000), 9850)
  t.is(nextAttemptAt(P, 4, 9750, 10_000), undefined)
  t.is(nextAttemptAt(P, 1, 10_000, 10_000), undefined)
  // an RPC outage of 65 s with a minute of window left: attempts keep coming until the end
  let now = 0
  const deadline = 120_000
  const attempts: number[] = []
  for (let failures = 1; ; failures++) {
    const at = nextAttemptAt(defaultRetryPolicy, failures, now, deadline)
    if (at === undefined) break
    t.true(at > now, 'time moves forward between attempts')
    attempts.push(at)
    now = at + 10 // each attempt fails after 10 ms
  }
  t.true(attempts.some(a => a > 65_000 && a < deadline - defaultRetryPolicy.finalLeadMs + 1), 'an attempt after the outage ended')
  t.true(attempts.at(-1)! < deadline)
})

test('retry: one attempt never runs past the deadline', t => {
  t.is(attemptBudgetMs(P, 0, 10_000), 5000)
  t.is(attemptBudgetMs(P, 8000, 10_000), 2000)
  t.is(attemptBudgetMs(P, 11_000, 10_000), 0)
})

test('ban list: failures demote, then ban; bans lapse after the TTL; ranking drops banned and demotes', t => {
  const bans = new BanList({ ttlMs: 1000 })
  t.is(bans.record('0xAA', 'declined', 0), 'demoted')
  t.is(bans.standing('0xaa', 10), 'demoted', 'addresses compare case-insensitively')
  t.is(bans.record('0xaa', 'agree-reverted', 100), 'banned')
  t.is(bans.record('0xbb', 'unreachable', 100), 'demoted', 'one failed dial only demotes: it may have been our own network, or a loaded relay')
  t.is(bans.record('0xbb', 'unreachable', 100), 'banned', 'a second one bans')
  t.is(new BanList({ ttlMs: 1000 }).record('0xff', 'false-capacity', 100), 'banned', 'a free slot offered and a canary on it refused: banned at once')
  const ranked = bans.rank(['0xcc', '0xaa', '0xdd', '0xbb'], p => p, 200)
  t.deepEqual(ranked, ['0xcc', '0xdd'])
  bans.record('0xee', 'declined', 200)
  t.deepEqual(bans.rank(['0xee', '0xcc'], p => p, 300), ['0xcc', '0xee'], 'a demoted provider goes last')
  t.is(bans.standing('0xaa', 1100), 'ok', 'the score lapses a TTL after the last failure')
  t.is(bans.lastFailure('0xbb', 1099), 'unreachable')
  // the matcher is asked for this many more candidates: the marked ones (asked last or skipped) do not crowd out the rest
  // (0xaa's score lapsed when read at 1100 above: 0xbb banned and 0xee demoted remain)
  t.is(bans.markedCount(300), 2)
  t.is(bans.bannedCount(300), 1)
  t.is(bans.markedCount(1100), 1, 'lapsed scores no longer count')
})

test('after a failed proposal: busy and passing faults (a failed dial too) keep the provider in the job\'s queue; refusals do not; a stranger always answering UNKNOWN_OFFER is banned after two', t => {
  t.deepEqual(afterProposal({ outcome: 'declined', reason: 'NO_CAPACITY' }), { exclude: false })
  t.deepEqual(afterProposal({ outcome: 'declined', reason: 'RATE_LIMITED' }), { exclude: false })
  t.deepEqual(afterProposal({ outcome: 'declined', reason: 'INTERNAL' }), { exclude: false }, 'a deposit read that timed out at the provider')
  t.deepEqual(afterProposal({ outcome: 'no-answer' }), { exclude: false, failure: 'declined' }, 'a loaded provider answering late is demoted, not dropped')
  t.deepEqual(afterProposal({ outcome: 'declined', reason: 'UNKNOWN_OFFER' }), { exclude: false, failure: 'declined' })
  // this job creator's own jobs racing for one provider's slots: the lost races are not the provider's fault
  t.deepEqual(afterProposal({ outcome: 'declined', reason: 'UNKNOWN_OFFER', contended: true }), { exclude: false })
  t.deepEqual(afterProposal({ outcome: 'declined', reason: 'EXPIRED', contended: true }), { exclude: false })
  t.deepEqual(afterProposal({ outcome: 'no-answer', contended: true }), { exclude: false })
  t.deepEqual(afterProposal({ outcome: 'held' }), { exclude: false }, 'an offer our own other job was proposing on: a turn to wait for, no mark')
  t.deepEqual(afterProposal({ outcome: 'declined', reason: 'TERMS', contended: true }), { exclude: true, failure: 'declined' }, 'a refusal stays a refusal')
  for (const reason of ['TERMS', 'MODULE', 'UNFUNDED', 'BAD_SIGNATURE', 'WRONG_PROVIDER', 'MALFORMED']) t.deepEqual(afterProposal({ outcome: 'declined', reason }), { exclude: true, failure: 'declined' }, reason)
  t.deepEqual(afterProposal({ outcome: 'unreachable' }), { exclude: false, failure: 'unreachable' }, 'a dial that failed: asked again after the others')
  t.deepEqual(afterProposal({ outcome: 'no-peer' }), { exclude: true, failure: 'unreachable' }, 'an offer that names no peer cannot be asked at all')
  t.deepEqual(afterProposal({ outcome: 'bad-countersignature' }), { exclude: true, failure: 'declined' })
  const bans = new BanList()
  for (let i = 0; i < 2; i++) { const v = afterProposal({ outcome: 'declined', reason: 'UNKNOWN_OFFER' }); bans.record('0xspam', v.failure!, 0) }
  t.true(bans.banned('0xspam', 1))
  // a peer that is never there: asked twice in all, then skipped for the TTL
  for (let i = 0; i < 2; i++) { const v = afterProposal({ outcome: 'unreachable' }); bans.record('0xghost', v.failure!, 0) }
  t.true(bans.banned('0xghost', 1))
})

test('ban list: bounded, forgetting the least recently failed', t => {
  const bans = new BanList({ maxEntries: 3 })
  for (const p of ['0x1', '0x2', '0x3', '0x4']) bans.record(p, 'no-result', 0)
  t.is(bans.size, 3)
  t.is(bans.standing('0x1', 1), 'ok')
  t.is(bans.standing('0x4', 1), 'banned')
})

test('announce schedule: heartbeat, immediate withdrawal, rate-limited re-announcement', t => {
  const s = new AnnounceSchedule<string>([0, 1], 0, { intervalMs: 10_000, minGapMs: 1000 })
  t.deepEqual(s.due(0), { announce: [0, 1], withdraw: [] })
  t.is(s.nextWakeAt(), 10_000)
  // slot 1 taken 200 ms later: withdrawn at once; slot 0 was announced within the gap, so it waits
  t.deepEqual(s.setFree([0], 200), { announce: [], withdraw: [1] })
  t.is(s.nextWakeAt(), 1000)
  t.deepEqual(s.due(999), { announce: [], withdraw: [] })
  t.deepEqual(s.due(1000), { announce: [0], withdraw: [] })
  // a peer toggling its subscription many times a second gets at most one announcement per gap
  let n = 0
  for (let now = 1000; now <= 3000; now += 50) n += s.request(now).announce.length
  t.is(n, 2)
  // freed again: every free slot whose last announcement is old enough goes out at once
  t.deepEqual(s.setFree([0, 1], 5000), { announce: [0, 1], withdraw: [] })
  t.deepEqual(s.setFree([1], 5100), { announce: [], withdraw: [0] })
  t.deepEqual(s.force(5101), { announce: [1], withdraw: [] }, 'an explicit announce ignores the gap')
})

test('announce schedule: remembers issued offers until they expire, newest live offer per free slot', t => {
  const s = new AnnounceSchedule<{ id: string, nonce: number }>([0, 1], 0)
  s.issue('a', 0, 100n, { id: 'a', nonce: 1 })
  s.issue('b', 0, 200n, { id: 'b', nonce: 2 })
  s.issue('c', 1, 100n, { id: 'c', nonce: 3 })
  t.is(s.own('a', 99n)?.id, 'a')
  t.is(s.own('a', 100n), undefined)
  t.is(s.slotOf('c'), 1)
  t.deepEqual(s.live(50n, (x, y) => x.nonce > y.nonce).map(o => o.id).sort(), ['b', 'c'])
  s.setFree([0], 10)
  t.deepEqual(s.live(50n, (x, y) => x.nonce > y.nonce).map(o => o.id), ['b'])
  s.expire(150n)
  t.is(s.own('c', 0n), undefined)
  t.is(s.own('b', 150n)?.id, 'b')
})

test('queue: propose while a slot is free; wait up to the queue deadline while fitting providers are busy; fail fast when none fits', t => {
  const p = { matchTimeoutMs: 5000, queueTimeoutMs: 60_000 }
  t.deepEqual(queueDecision({ free: 2, busyProviders: 1, providersSeen: false, waitedMs: 0 }, p), { kind: 'propose' })
  t.deepEqual(queueDecision({ free: 0, busyProviders: 1, providersSeen: false, waitedMs: 10_000 }, p), { kind: 'wait', queued: true, untilMs: 60_000 })
  t.deepEqual(queueDecision({ free: 0, busyProviders: 1, providersSeen: false, waitedMs: 60_000 }, p), { kind: 'fail', reason: 'queue-timeout' })
  // providers answered busy earlier (or a retry): a queue even while the book shows none
  t.deepEqual(queueDecision({ free: 0, busyProviders: 0, providersSeen: true, waitedMs: 10_000 }, p), { kind: 'wait', queued: false, untilMs: 60_000 })
  t.deepEqual(queueDecision({ free: 0, busyProviders: 0, providersSeen: false, waitedMs: 1000 }, p), { kind: 'wait', queued: false, untilMs: 5000 })
  t.deepEqual(queueDecision({ free: 0, busyProviders: 0, providersSeen: false, waitedMs: 5000 }, p), { kind: 'fail', reason: 'no-match' })
  // every provider that fits failed this job or is banned: no queue to wait in, whatever was seen before
  t.deepEqual(queueDecision({ free: 0, busyProviders: 0, providersSeen: true, ruledOut: 1, waitedMs: 0 }, p), { kind: 'fail', reason: 'no-match' })
  // a busy provider that may still serve it: that one is waited for
  t.deepEqual(queueDecision({ free: 0, busyProviders: 1, providersSeen: true, ruledOut: 2, waitedMs: 0 }, p), { kind: 'wait', queued: true, untilMs: 60_000 })
})

test('queue: fitting providers ruled out (failed the job, banned) are counted apart from the busy ones that may serve', t => {
  const banned = new Set(['0xb'])
  t.deepEqual(fittingProviders({ free: ['0xB', '0xc'], busy: ['0xA', '0xa', '0xB'] }, p => banned.has(p)), { busyProviders: 1, ruledOut: 1 })
  t.deepEqual(fittingProviders({ free: [], busy: ['0xB'] }, p => banned.has(p)), { busyProviders: 0, ruledOut: 1 })
  t.deepEqual(fittingProviders({ free: [], busy: [] }, () => true), { busyProviders: 0, ruledOut: 0 })
})

test('announce schedule: a booked slot is withdrawn at once and kept visible as busy on every heartbeat', t => {
  const s = new AnnounceSchedule<string>([0, 1], 0, { intervalMs: 10_000, minGapMs: 1000 })
  t.deepEqual(s.due(0), { announce: [0, 1], withdraw: [] })
  t.deepEqual(s.setFree([0], 2000, [1]), { announce: [0], withdraw: [1] })
  t.deepEqual(s.busy, [1])
  t.deepEqual(s.due(10_000), { announce: [0], withdraw: [], busy: [1] })
  // a slot gone for another reason (engine down, no deposit) is withdrawn but not kept visible
  t.deepEqual(s.setFree([], 11_000), { announce: [], withdraw: [0] })
  t.deepEqual(s.due(20_000), { announce: [], withdraw: [] })
})
