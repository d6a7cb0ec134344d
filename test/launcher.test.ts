// The ./lilypad launcher's process settings (issue 20): glibc's malloc arenas capped, V8's semi-spaces kept small,
// and an operator's own settings winning over both.
import test from 'ava'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const run = promisify(execFile)
const LAUNCHER = fileURLToPath(new URL('../lilypad', import.meta.url))

test('the launcher runs the CLI with MALLOC_ARENA_MAX=2 and --max-semi-space-size=4 first in NODE_OPTIONS, the operator\'s own after it', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-launcher-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  // a preload that reports what the CLI's process got, then lets the command run
  const probe = join(dir, 'probe.cjs')
  await writeFile(probe, 'process.stderr.write(JSON.stringify({ nodeOptions: process.env.NODE_OPTIONS, arenas: process.env.MALLOC_ARENA_MAX }) + "\\n")\n')
  const { MALLOC_ARENA_MAX: _unset, ...inherited } = process.env
  const env = { ...inherited, LILYPAD_SKIP_SETUP: '1', NODE_OPTIONS: `--require ${probe}` }
  const { stdout, stderr } = await run(LAUNCHER, ['version'], { env })
  t.regex(stdout, /^lilypad \S+ \(node 24\./)
  const seen = JSON.parse(stderr.trim().split('\n')[0]) as { nodeOptions: string, arenas: string }
  t.is(seen.nodeOptions, `--max-semi-space-size=4 --require ${probe}`)
  t.is(seen.arenas, '2')
  // the operator's own values win: MALLOC_ARENA_MAX kept, and a later --max-semi-space-size overrides ours
  const own = await run(LAUNCHER, ['version'], { env: { ...env, MALLOC_ARENA_MAX: '4', NODE_OPTIONS: `--require ${probe} --max-semi-space-size=16` } })
  const theirs = JSON.parse(own.stderr.trim().split('\n')[0]) as { nodeOptions: string, arenas: string }
  t.is(theirs.nodeOptions, `--max-semi-space-size=4 --require ${probe} --max-semi-space-size=16`)
  t.is(theirs.arenas, '4')
})
