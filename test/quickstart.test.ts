// The README's first command on a machine with no devnet: `lilypad run` starts one in the background, waits for
// it, runs cowsay and prints the cow; `lilypad devnet stop` stops it.
import test from 'ava'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const execFileP = promisify(execFile)

test('lilypad run cowsay on a fresh home starts the devnet, prints the cow, and devnet stop ends it', async t => {
  const home = await mkdtemp(join(tmpdir(), 'lilypad-quickstart-'))
  // the background devnet inherits our environment: its log at the level a user gets (ava's environment says warn)
  const env = { ...process.env, LILYPAD_HOME: home, LILYPAD_DATA_DIR: join(home, 'data'), WEB3_PRIVATE_KEY: '', LILYPAD_LOG_LEVEL: 'info' }
  t.teardown(async () => {
    await execFileP(process.execPath, ['cli/bin.ts', 'devnet', 'stop'], { env }).catch(() => {})
    await rm(home, { recursive: true, force: true })
  })
  const { stdout, stderr } = await execFileP(process.execPath, ['cli/bin.ts', 'run', 'cowsay:v0.0.1', '-i', 'Message=moo'], { env, timeout: 90_000 })
  t.regex(stderr, /starting one in the background/)
  t.true(stdout.includes('< moo >') && stdout.includes('(oo)'), stdout)
  const marker = JSON.parse(await readFile(join(home, 'devnet', 'ready.json'), 'utf8')) as { pid: number }
  // the background devnet says what it is doing in its log: one JSON object per line, each node named
  const log = (await readFile(join(home, 'devnet', 'devnet.log'), 'utf8')).split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l) as Record<string, unknown>)
  t.truthy(log.find(l => l.msg === 'devnet ready' && typeof l.rpc === 'string'), 'the devnet logs that it is ready')
  t.truthy(log.find(l => l.msg === 'directory record published' && l.node === 'provider'), 'the provider\'s record is in the DHT')
  const stopped = await execFileP(process.execPath, ['cli/bin.ts', 'devnet', 'stop'], { env })
  t.regex(stopped.stderr, new RegExp(`devnet \\(pid ${marker.pid}\\) stopped`))
  t.throws(() => process.kill(marker.pid, 0), undefined, 'the devnet process is gone')
})
