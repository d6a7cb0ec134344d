import test from 'ava'
import { ManualClock } from '../../core/clock.ts'
import { quietComponents } from '../components.ts'
import { PeerGuard } from './peer-guard.ts'

test('points add up to a ban that closes the peer\'s connections, tells gossipsub, decays and lifts with time', async t => {
  const clock = new ManualClock(0)
  const hungUp: string[] = []
  const penalties: Array<[string, number]> = []
  const pubsub = { score: { addPenalty: (id: string, n: number) => { penalties.push([id, n]) } } }
  const guard = new PeerGuard(quietComponents(clock), { hangUp: async p => { hungUp.push(p) }, pubsub }, { banThreshold: 10, banMs: 60_000, decayPerMinute: 6 })
  const banned: string[] = []
  guard.onBan(p => { banned.push(p) })
  t.false(guard.penalize('p1', 4, 'garbage', 'test'))
  t.false(guard.penalize('p1', 4, 'garbage', 'test'))
  await clock.advance(30_000) // 3 points forgotten
  t.is(guard.points('p1'), 5)
  t.false(guard.penalize('p1', 4, 'garbage', 'test'))
  t.true(guard.penalize('p1', 1, 'garbage', 'test'))
  t.deepEqual(banned, ['p1'])
  t.deepEqual(hungUp, ['p1'])
  t.is(penalties.length, 4, 'each offence is a gossipsub behaviour penalty too')
  t.false(guard.banned('p2'))
  await clock.advance(60_001)
  t.false(guard.banned('p1'))
})

test('the table of peers is bounded; banned peers are kept over quiet ones', t => {
  const clock = new ManualClock(0)
  const guard = new PeerGuard(quietComponents(clock), {}, { banThreshold: 1, maxPeers: 3 })
  guard.penalize('banned', 5, 'x', 'test')
  for (let i = 0; i < 10; i++) guard.penalize(`quiet-${i}`, 0.1, 'x', 'test')
  t.true(guard.banned('banned'))
  t.is(guard.points('quiet-0'), 0, 'forgotten')
})
