// `lilypad get <CID>` against an in-process devnet: a directory the provider holds is fetched over bitswap,
// verified and copied to --out; the listing is one JSON document with --json; a CID nobody connected serves
// ends in a named error with a hint (not a stack trace); bad input is a usage error (exit 2).
import test from 'ava'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { startDevnet, type Devnet } from '../node/devnet.ts'

const execFileP = promisify(execFile)
let home: string
let devnet: Devnet

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'lilypad-cli-get-'))
  devnet = await startDevnet({ home, port: 0, slots: 1 })
})

test.after.always(async () => {
  await devnet?.stop()
  if (home !== undefined) await rm(home, { recursive: true, force: true })
})

async function cli (...args: string[]): Promise<{ stdout: string, stderr: string, code: number }> {
  try {
    const r = await execFileP(process.execPath, ['cli/bin.ts', ...args], { env: { ...process.env, LILYPAD_HOME: home, LILYPAD_DATA_DIR: join(home, 'data'), WEB3_PRIVATE_KEY: '' }, timeout: 90_000 })
    return { ...r, code: 0 }
  } catch (err) {
    const e = err as { stdout: string, stderr: string, code: number }
    return { stdout: e.stdout, stderr: e.stderr, code: e.code }
  }
}

test.serial('lilypad get fetches a result directory from the peer named with --from, verified, into --out', async t => {
  const dir = join(home, 'result')
  await mkdir(join(dir, 'outputs'), { recursive: true })
  await writeFile(join(dir, 'stdout'), 'hello from the provider\n')
  await writeFile(join(dir, 'outputs', 'counts.txt'), 'one two three\n')
  const cid = (await devnet.provider.store.addDirectory(dir)).toString()
  const from = devnet.provider.host.getMultiaddrs()[0].toString()
  const out = join(home, 'got')
  const r = await cli('get', cid, '--from', from, '--out', out, '--json', '--timeout', '60')
  t.is(r.code, 0, r.stderr)
  const doc = JSON.parse(r.stdout) as { cid: string, path: string, files: Array<{ name: string, bytes: number }> }
  t.deepEqual(doc, { cid, path: out, files: [{ name: 'outputs/counts.txt', bytes: 14 }, { name: 'stdout', bytes: 24 }] })
  t.is(await readFile(join(out, 'stdout'), 'utf8'), 'hello from the provider\n')
  t.is(await readFile(join(out, 'outputs', 'counts.txt'), 'utf8'), 'one two three\n')
})

test.serial('a CID no connected peer serves: a named error with a hint, exit 1, no stack trace', async t => {
  const r = await cli('get', 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi', '--timeout', '3')
  t.is(r.code, 1)
  t.regex(r.stderr, /could not be fetched within 3 s/)
  t.regex(r.stderr, /--from/)
  t.notRegex(r.stderr, /at .*\.ts:\d+/)
  t.is(r.stdout, '')
})

test.serial('a result bigger than --max-mb: a named error with a hint, exit 1, nothing written', async t => {
  const dir = join(home, 'big')
  await mkdir(join(dir, 'outputs'), { recursive: true })
  await writeFile(join(dir, 'outputs', 'blob'), randomBytes(3_000_000))
  const cid = (await devnet.provider.store.addDirectory(dir)).toString()
  const out = join(home, 'got-big')
  const r = await cli('get', cid, '--from', devnet.provider.host.getMultiaddrs()[0].toString(), '--out', out, '--max-mb', '1', '--timeout', '60')
  t.is(r.code, 1, r.stderr)
  t.regex(r.stderr, /is bigger than 1000000 bytes/)
  t.regex(r.stderr, /--max-mb raises the bound/)
  t.notRegex(r.stderr, /at .*\.ts:\d+/)
  await t.throwsAsync(readdir(out), { code: 'ENOENT' })
})

test.serial('bad input is a usage error (exit 2) before anything starts', async t => {
  for (const args of [['get'], ['get', 'not-a-cid'], ['get', 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi', '--timeout', '0'], ['get', 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi', '--from', 'nowhere'], ['get', 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi', '--max-mb', '0']]) {
    const r = await cli(...args)
    t.is(r.code, 2, args.join(' '))
    t.regex(r.stderr, /usage: lilypad get|lilypad get </, args.join(' '))
  }
})
