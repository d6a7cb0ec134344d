import test from 'ava'
import { setNewest, noteRecent } from './bounded.ts'

test('setNewest keeps the newest `max` entries; setting a key again makes it the newest', t => {
  const m = new Map<string, number>()
  for (const [i, k] of ['a', 'b', 'c'].entries()) setNewest(m, k, i, 3)
  setNewest(m, 'a', 9, 3)
  setNewest(m, 'd', 3, 3)
  t.deepEqual([...m], [['c', 2], ['a', 9], ['d', 3]])
})

test('noteRecent drops what is older than the ttl and the oldest beyond max', t => {
  const m = new Map<string, number>()
  noteRecent(m, 'a', 0, 100, 3)
  noteRecent(m, 'b', 50, 100, 3)
  noteRecent(m, 'c', 120, 100, 3)
  t.deepEqual([...m.keys()], ['b', 'c'], 'a (at 0) is older than 100 ms at 120')
  noteRecent(m, 'd', 121, 100, 2)
  t.deepEqual([...m.keys()], ['c', 'd'], 'beyond max the oldest goes even when still young')
  noteRecent(m, 'c', 300, 100, 2)
  t.deepEqual([...m.keys()], ['c'], 'noted again: the newest; d (at 121) lapsed')
})
