// Which modules a provider serves, decided on the reference's text alone; and the bounds on the git fetches it
// does serve, against real repositories in temp dirs.
import test from 'ava'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { checkModule, ModuleNotServedError, resolveModule, ModuleFetchLimitError } from './index.ts'

const run = promisify(execFile)
const git = async (cwd: string, ...args: string[]): Promise<string> =>
  (await run('git', ['-c', 'user.name=Lilypad Test', '-c', 'user.email=test@lilypad.invalid', '-c', 'init.defaultBranch=main', '-c', 'commit.gpgSign=false', ...args], { cwd, maxBuffer: 64 * 1024 * 1024 })).stdout.trim()
const commit = 'c'.repeat(40)

function refused (t: { throws: Function }, ref: string, policy?: Parameters<typeof checkModule>[1]): string {
  const err = (t.throws as (f: () => unknown, e: object) => ModuleNotServedError)(() => checkModule(ref, policy), { instanceOf: ModuleNotServedError })
  return err.reason
}

test('by default only the pinned built-ins are served; every other form is refused with a named reason', t => {
  t.deepEqual(checkModule('cowsay:v0.0.1'), { kind: 'builtin', fetchSec: 0 })
  t.is(refused(t, 'nosuchmodule:v0.0.0'), 'unknown-name')
  t.is(refused(t, `https://github.com/a/b#${commit}`), 'git-off')
  t.is(refused(t, `github.com/a/b:${commit}`), 'git-off')
  t.is(refused(t, `git@github.com:a/b.git#${commit}`), 'scheme')
  t.is(refused(t, './lilypad_module.json.tmpl'), 'local')
  t.is(refused(t, '/etc/passwd'), 'local')
  t.is(refused(t, '../../x'), 'local')
  t.is(refused(t, 'cowsay:v0.0.1', { builtins: false }), 'unknown-name')
})

test('git modules, when configured: allowed hosts and schemes only, pinned to a commit; the fetch bound sets the result window', t => {
  const policy = { git: { hosts: ['github.com'], timeoutMs: 20_000 } }
  t.deepEqual(checkModule(`https://github.com/a/b#${commit}`, policy), { kind: 'git', fetchSec: 20 })
  t.deepEqual(checkModule(`github.com/a/b:${commit}`, policy), { kind: 'git', fetchSec: 20 })
  t.is(refused(t, `https://evil.example/a/b#${commit}`, policy), 'host')
  t.is(refused(t, `http://github.com/a/b#${commit}`, policy), 'scheme')
  t.is(refused(t, `file:///srv/repo#${commit}`, policy), 'scheme')
  t.is(refused(t, `ssh://github.com/a/b#${commit}`, policy), 'scheme')
  t.is(refused(t, 'https://github.com/a/b#v1.0.0', policy), 'unpinned')
  t.is(refused(t, 'https://github.com/a/b', policy), 'unpinned')
  t.deepEqual(checkModule(`git@github.com:a/b.git#${commit}`, { git: { hosts: ['github.com'], schemes: ['ssh'] } }), { kind: 'git', fetchSec: 60 })
  t.deepEqual(checkModule(`file:///srv/repo#${commit}`, { git: { hosts: [], schemes: ['file'] } }).kind, 'git')
  // a provider's own modules are served exactly as listed
  t.deepEqual(checkModule('/srv/my-module', { allow: ['/srv/my-module'] }), { kind: 'allowed', fetchSec: 0 })
})

test('a git fetch is bounded in size and time and aborted, leaving no partial clone', async t => {
  const root = await mkdtemp(join(tmpdir(), 'lilypad-fetch-'))
  t.teardown(async () => { await rm(root, { recursive: true, force: true }) })
  const repo = join(root, 'big')
  await mkdir(repo)
  await git(repo, 'init', '-q')
  await writeFile(join(repo, 'lilypad_module.json.tmpl'), '{}')
  // 3 MB of incompressible data
  await writeFile(join(repo, 'blob.bin'), randomBytes(3 * 1024 * 1024))
  await git(repo, 'add', '.')
  await git(repo, 'commit', '-q', '-m', 'big')
  const head = await git(repo, 'rev-parse', 'HEAD')
  const cache = join(root, 'cache')
  const err = await t.throwsAsync(resolveModule(`file://${repo}#${head}`, { cacheDir: cache, maxFetchBytes: 256 * 1024 }), { instanceOf: ModuleFetchLimitError })
  t.regex(err?.message ?? '', /grew past/)
  const tooSlow = await t.throwsAsync(resolveModule(`file://${repo}#${head}`, { cacheDir: cache, fetchTimeoutMs: 1 }), { instanceOf: ModuleFetchLimitError })
  t.regex(tooSlow?.message ?? '', /took longer/)
  const ac = new AbortController()
  ac.abort(new Error('deal fell through'))
  await t.throwsAsync(resolveModule(`file://${repo}#${head}`, { cacheDir: cache, signal: ac.signal }))
  const { readdir } = await import('node:fs/promises')
  const left = await readdir(cache, { recursive: true }).catch(() => [])
  t.false(left.some(p => String(p).includes('.tmp-')), 'no partial clone left behind')
  // within bounds it resolves and pins
  const ok = await resolveModule(`file://${repo}#${head}`, { cacheDir: cache })
  t.is(ok.commit, head)
})
