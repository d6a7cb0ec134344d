// The result store on a real small file system (a tmpfs the test mounts): results that do not fit are refused
// before a block is written, concurrent adds cannot both pass the check, and a disk that fills up mid-add ends
// in DiskFullError with every block, temp file and shard directory of that add gone.
import test from 'ava'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fillDisk, mountTmpfs } from '../testing/tmpfs.ts'
import { ResultStore } from './index.ts'

interface Ctx { teardown: (fn: () => Promise<void> | void) => void }

async function tempDir (t: Ctx): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-store-disk-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

/** A store whose data directory is on a fresh tmpfs of `bytes`. */
async function storeOnSmallDisk (t: Ctx, bytes: number): Promise<{ store: ResultStore, disk: string, blocks: string }> {
  const disk = await mountTmpfs({ bytes })
  const store = await ResultStore.create({ dataDir: join(disk.path, 'data') })
  // teardowns run last-registered first: the store stops before the disk goes
  t.teardown(async () => { await disk.unmount() })
  t.teardown(async () => { await store.stop() })
  return { store, disk: disk.path, blocks: join(disk.path, 'data', 'helia', 'blocks') }
}

async function result (dir: string, bytes: number): Promise<string> {
  await mkdir(join(dir, 'outputs'), { recursive: true })
  await writeFile(join(dir, 'stdout'), 'ok\n')
  await writeFile(join(dir, 'exitCode'), '0')
  await writeFile(join(dir, 'outputs', 'data.bin'), randomBytes(bytes))
  return dir
}

/** Every file and directory under root (temp files included), relative. */
async function tree (root: string, dir = root, out: string[] = []): Promise<string[]> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    out.push(relative(root, join(dir, e.name)) + (e.isDirectory() ? '/' : ''))
    if (e.isDirectory()) await tree(root, join(dir, e.name), out)
  }
  return out.sort()
}

test('a result larger than the free space is refused before any block is written', async t => {
  const { store, blocks } = await storeOnSmallDisk(t, 6 * 1024 * 1024)
  const before = await tree(blocks)
  const err = await t.throwsAsync(store.addDirectory(await result(join(await tempDir(t), 'r'), 8 * 1024 * 1024)))
  t.is(err?.name, 'InsufficientDiskError')
  t.regex((err as unknown as { hint: string }).hint, /free space/)
  t.deepEqual(await tree(blocks), before)
})

test('two results that fit alone but not together: one is stored, the other refused up front', async t => {
  const { store, blocks } = await storeOnSmallDisk(t, 6 * 1024 * 1024)
  const base = await tempDir(t)
  const [a, b] = await Promise.all([result(join(base, 'a'), 3_500_000), result(join(base, 'b'), 3_500_000)])
  const outcomes = await Promise.allSettled([store.addDirectory(a), store.addDirectory(b)])
  const stored = outcomes.filter(o => o.status === 'fulfilled')
  const refused = outcomes.filter(o => o.status === 'rejected')
  t.is(stored.length, 1)
  t.is(refused.length, 1)
  t.is(((refused[0] as PromiseRejectedResult).reason as Error).name, 'InsufficientDiskError')
  // The stored one is whole: it exports completely from local blocks.
  let bytes = 0
  for await (const chunk of store.exportCar((stored[0] as PromiseFulfilledResult<{ toString: () => string }>).value.toString(), { signal: AbortSignal.timeout(10_000) })) bytes += chunk.length
  t.true(bytes > 3_500_000)
  t.false((await tree(blocks)).some(p => p.endsWith('.tmp')))
})

test('the disk filling up mid-add: DiskFullError, and that add leaves no block, temp file or directory', async t => {
  const { store, disk, blocks } = await storeOnSmallDisk(t, 12 * 1024 * 1024)
  const base = await tempDir(t)
  // An earlier result stays whole whatever happens next.
  const earlier = await store.addDirectory(await result(join(base, 'earlier'), 200_000))
  await store.settled()
  const before = await tree(blocks)
  // Something else on the machine takes the rest of the disk right after this add's first block lands
  // (the free-space check has passed by then).
  const filler = join(disk, 'filler')
  let filled = false
  const err = await t.throwsAsync(store.addDirectory(await result(join(base, 'big'), 6 * 1024 * 1024), {
    onProgress: evt => { if (!filled && evt.type === 'unixfs:importer:progress:file:write') { filled = true; fillDisk(filler) } }
  }))
  t.true(filled)
  t.is(err?.name, 'DiskFullError')
  t.regex((err as unknown as { hint: string }).hint, /free space/)
  t.deepEqual(await tree(blocks), before, 'the block store is as it was before the add')
  t.true(await store.has(earlier))
  // Space back: the same result is stored.
  await rm(filler)
  const cid = await store.addDirectory(join(base, 'big'))
  t.true(await store.has(cid))
})
