import test from 'ava'
import { mkdtemp, rm, writeFile, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DealStore, type StoredRecord } from './deal-store.ts'
import { ManualClock } from '../../core/clock.ts'

interface Rec extends StoredRecord { phase: string, price: bigint, count?: number }

const id = (n: number) => '0x' + n.toString(16).padStart(64, '0')

async function tempDir (t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-store-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

test('records survive a restart and open() lists only non-terminal ones, oldest first', async t => {
  const dir = await tempDir(t)
  const a = new DealStore<Rec>(dir)
  await a.put({ id: id(1), terminal: false, updatedAt: 0, phase: 'agreed', price: 10n ** 20n })
  await a.put({ id: id(2), terminal: true, updatedAt: 0, phase: 'settled', price: 1n })
  await a.put({ id: id(3), terminal: false, updatedAt: 0, phase: 'running', price: 2n })

  const b = new DealStore<Rec>(dir) // a restarted node
  const { records, corrupt } = await b.load()
  t.is(records.length, 3)
  t.deepEqual(corrupt, [])
  const open = await b.open()
  t.deepEqual(open.map(r => r.id), [id(1), id(3)])
  t.is(open[0].price, 10n ** 20n) // bigints round-trip
})

test('concurrent updates of one record are serialised, none is lost', async t => {
  const dir = await tempDir(t)
  const s = new DealStore<Rec>(dir)
  await s.put({ id: id(7), terminal: false, updatedAt: 0, phase: 'agreed', price: 0n, count: 0 })
  await Promise.all(Array.from({ length: 50 }, async () => await s.update(id(7), r => ({ ...r!, count: r!.count! + 1 }))))
  const fresh = new DealStore<Rec>(dir)
  t.is((await fresh.get(id(7)))?.count, 50)
  t.deepEqual((await readdir(dir)).filter(n => n.endsWith('.tmp')), []) // no temp files left behind
})

test('a corrupt file is reported and does not stop the others loading', async t => {
  const dir = await tempDir(t)
  const s = new DealStore<Rec>(dir)
  await s.put({ id: id(1), terminal: false, updatedAt: 0, phase: 'agreed', price: 1n })
  await writeFile(join(dir, `${id(2)}.json`), '{"id": "0x')
  const { records, corrupt } = await new DealStore<Rec>(dir).load()
  t.is(records.length, 1)
  t.is(corrupt.length, 1)
})

test('an id that could escape the directory is refused', async t => {
  const dir = await tempDir(t)
  const s = new DealStore<Rec>(dir)
  await t.throwsAsync(s.put({ id: '../../etc/passwd', terminal: false, updatedAt: 0, phase: 'x', price: 0n }), { instanceOf: TypeError })
})

test('terminal records are removed after their retention period; open ones never', async t => {
  const dir = await tempDir(t)
  const clock = new ManualClock()
  const store = new DealStore<Rec>(dir, { clock })
  await store.put({ id: id(1), terminal: true, updatedAt: 0, phase: 'settled', price: 1n })
  await store.put({ id: id(2), terminal: false, updatedAt: 0, phase: 'agreed', price: 1n })
  await clock.advance(60_000)
  await store.put({ id: id(3), terminal: true, updatedAt: 0, phase: 'refunded', price: 1n })
  const retention = 30_000
  t.is(await store.prune(clock.now() - retention), 1, 'only the settled record is past retention')
  t.deepEqual((await store.all()).map(r => r.id).sort(), [id(2), id(3)])
  await clock.advance(3_600_000)
  t.is(await store.prune(clock.now() - retention), 1)
  t.deepEqual((await store.all()).map(r => r.id), [id(2)], 'the open record stays however old')
  t.is(store.size, 1)
  t.deepEqual((await readdir(dir)).filter(f => f.endsWith('.json')), [`${id(2)}.json`], 'the files went too')
  const reopened = new DealStore<Rec>(dir)
  t.is((await reopened.load()).records.length, 1)
})
