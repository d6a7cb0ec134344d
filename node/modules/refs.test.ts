// Module references against real git repositories made in temp dirs (no network), and the CLI.
import test from 'ava'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { loadModule, parseModuleRef, resolveModule, BUILTIN_MODULES_DIR } from './index.ts'

const run = promisify(execFile)
const git = async (cwd: string, ...args: string[]): Promise<string> =>
  (await run('git', ['-c', 'user.name=Lilypad Test', '-c', 'user.email=test@lilypad.invalid', '-c', 'init.defaultBranch=main', '-c', 'tag.gpgSign=false', '-c', 'commit.gpgSign=false', ...args], { cwd })).stdout.trim()

const template = (word: string): string => `{
  "machine": { "gpu": 0, "cpu": 100, "ram": 32 },
  "job": { "APIVersion": "V1beta1", "Spec": { "Engine": "Docker",
    "Docker": { "Image": "example.org/${word}:1", "Entrypoint": ["echo", "${word}", {{ if .Message }}{{ .Message }}{{ else }}"none"{{ end }}] },
    "Network": { "Type": "None" }, "Timeout": 30, "Outputs": [ { "Name": "outputs", "Path": "/outputs" } ] } }
}`

async function makeRepo (t: { teardown: (fn: () => Promise<void>) => void }): Promise<{ root: string, repo: string, cache: string }> {
  const root = await mkdtemp(join(tmpdir(), 'lilypad-refs-'))
  t.teardown(async () => { await rm(root, { recursive: true, force: true }) })
  const repo = join(root, 'lilypad-module-echo')
  await mkdir(repo)
  await git(repo, 'init', '-q')
  await writeFile(join(repo, 'lilypad_module.json.tmpl'), template('first'))
  await git(repo, 'add', '.')
  await git(repo, 'commit', '-q', '-m', 'first')
  await git(repo, 'tag', 'v1')
  return { root, repo, cache: join(root, 'cache') }
}

test('a registry shortcut resolves to the built-in module directory', async t => {
  const src = parseModuleRef('cowsay:v0.0.1')
  t.is(src.kind, 'builtin')
  const m = await resolveModule('cowsay:v0.0.1')
  t.is(m.kind, 'builtin')
  t.is(m.templatePath, join(BUILTIN_MODULES_DIR, 'cowsay', 'lilypad_module.json.tmpl'))
  t.is(m.image, 'lilypad/cowsay:v0.0.1')
  const loaded = await loadModule('cowsay:v0.0.1', { Message: 'moo' })
  t.deepEqual(loaded.spec.entrypoint, ['/usr/local/bin/cowsay', 'moo'])
  t.is(loaded.spec.image, 'lilypad/cowsay:v0.0.1')
})

test('other names follow Lilypad\'s convention; host/owner/repo and URLs map to git', t => {
  t.deepEqual(parseModuleRef('sdxl-pipeline:v0.9-lilypad1'), { kind: 'git', url: 'https://github.com/Lilypad-Tech/lilypad-module-sdxl-pipeline', ref: 'v0.9-lilypad1' })
  t.deepEqual(parseModuleRef('github.com/someone/lilypad-module-x:v2.1.0'), { kind: 'git', url: 'https://github.com/someone/lilypad-module-x', ref: 'v2.1.0' })
  t.deepEqual(parseModuleRef('https://git.example.org:8443/a/b.git#release/1'), { kind: 'git', url: 'https://git.example.org:8443/a/b.git', ref: 'release/1' })
  t.deepEqual(parseModuleRef('file:///srv/modules/x:v3'), { kind: 'git', url: 'file:///srv/modules/x', ref: 'v3' })
})

test('bad references are named errors', async t => {
  for (const [ref, name] of [
    ['', 'ModuleRefError'],
    ['cowsay', 'ModuleRefError'],
    ['owner/repo:v1', 'ModuleRefError'],
    ['bad name!:v1', 'ModuleRefError'],
    ['file:///no/such/repo', 'ModuleRefError'],
    ['./definitely-not-here', 'ModuleNotFoundError']
  ] as const) {
    const err = await t.throwsAsync(resolveModule(ref), undefined, ref)
    t.is(err?.name, name, ref)
  }
})

test('a local git repository at a tag is cloned and pinned to the commit', async t => {
  const { repo, cache } = await makeRepo(t)
  const commit = await git(repo, 'rev-parse', 'v1^{commit}')
  const m = await resolveModule(`file://${repo}#v1`, { cacheDir: cache })
  t.is(m.kind, 'git')
  t.is(m.commit, commit)
  t.is(m.pinned, `file://${repo}#${commit}`)
  t.is(await readFile(m.templatePath, 'utf8'), template('first'))
  // The path form with :ref names the same repository content.
  const byPath = await resolveModule(`${repo}:v1`, { cacheDir: cache })
  t.is(byPath.commit, commit)
  const loaded = await loadModule(`file://${repo}#v1`, { Message: 'hi' }, { cacheDir: cache })
  t.deepEqual(loaded.spec.entrypoint, ['echo', 'first', 'hi'])
})

test('a moved tag does not change an already pinned commit', async t => {
  const { repo, cache } = await makeRepo(t)
  const url = `file://${repo}`
  const first = await resolveModule(`${url}#v1`, { cacheDir: cache })
  // The author moves the tag to new content.
  await writeFile(join(repo, 'lilypad_module.json.tmpl'), template('second'))
  await git(repo, 'commit', '-q', '-am', 'second')
  await git(repo, 'tag', '-f', 'v1')
  const moved = await git(repo, 'rev-parse', 'HEAD')
  t.not(moved, first.commit)
  // The pinned reference still gives exactly the first commit's template.
  const pinned = await resolveModule(first.pinned, { cacheDir: cache })
  t.is(pinned.commit, first.commit)
  t.is(await readFile(pinned.templatePath, 'utf8'), template('first'))
  // A job that insists on the pinned commit refuses the moved tag.
  const err = await t.throwsAsync(resolveModule(`${url}#v1`, { cacheDir: cache, expectCommit: first.commit }))
  t.is(err?.name, 'ModulePinMismatchError')
  // Without a pin, the tag now resolves to the new commit; the old pinned tree is untouched.
  const now = await resolveModule(`${url}#v1`, { cacheDir: cache })
  t.is(now.commit, moved)
  t.is(await readFile(now.templatePath, 'utf8'), template('second'))
  t.is(await readFile(first.templatePath, 'utf8'), template('first'))
})

test('a missing ref and a repository without a template are named errors', async t => {
  const { root, repo, cache } = await makeRepo(t)
  const err1 = await t.throwsAsync(resolveModule(`file://${repo}#v9`, { cacheDir: cache }))
  t.is(err1?.name, 'ModuleNotFoundError')
  t.regex(err1?.message ?? '', /ref "v9" not found/)
  const empty = join(root, 'no-template')
  await mkdir(empty)
  await git(empty, 'init', '-q')
  await writeFile(join(empty, 'README.md'), 'nothing here\n')
  await git(empty, 'add', '.')
  await git(empty, 'commit', '-q', '-m', 'readme')
  await git(empty, 'tag', 'v1')
  const err2 = await t.throwsAsync(resolveModule(`file://${empty}#v1`, { cacheDir: cache }))
  t.is(err2?.name, 'ModuleTemplateMissingError')
  const err3 = await t.throwsAsync(resolveModule(`file://${join(root, 'nope')}#v1`, { cacheDir: cache }))
  t.is(err3?.name, 'ModuleNotFoundError')
})

// ---- the CLI ---------------------------------------------------------------------------------------------

const cli = async (...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> => {
  try {
    const { stdout, stderr } = await run(process.execPath, ['cli/bin.ts', ...args])
    return { code: 0, stdout, stderr }
  } catch (e) {
    const err = e as { code: number, stdout: string, stderr: string }
    return { code: err.code, stdout: err.stdout, stderr: err.stderr }
  }
}

test('lilypad module render --json prints the job spec of a git module', async t => {
  const { repo, cache } = await makeRepo(t)
  const r = await cli('module', 'render', `file://${repo}#v1`, '-i', 'Message=hello "world"', '--json', '--cache-dir', cache)
  t.is(r.code, 0, r.stderr)
  const spec = JSON.parse(r.stdout)
  t.deepEqual(spec.entrypoint, ['echo', 'first', 'hello "world"'])
  t.is(spec.image, 'example.org/first:1')
  t.is(spec.timeoutSec, 30)
})

test('lilypad module render prints a readable summary of a module directory and a template file', async t => {
  const dir = await cli('module', 'render', 'modules/primes', '-i', 'N=500')
  t.is(dir.code, 0, dir.stderr)
  t.regex(dir.stdout, /^image\s+lilypad\/primes:v0\.1\.0$/m)
  t.regex(dir.stdout, /^command\s+\/usr\/local\/bin\/primes 500$/m)
  t.regex(dir.stdout, /^network\s+none$/m)
  const file = await cli('module', 'render', 'modules/cowsay/lilypad_module.json.tmpl')
  t.is(file.code, 0, file.stderr)
  t.regex(file.stdout, /^command\s+\/usr\/local\/bin\/cowsay "hello, lilypad"$/m)
})

test('lilypad module render --pin pins a built-in module\'s image to its id', async t => {
  const r = await cli('module', 'render', 'cowsay:v0.0.1', '-i', 'Message=moo', '--json', '--pin')
  t.is(r.code, 0, r.stderr)
  t.regex(JSON.parse(r.stdout).image, /^sha256:[0-9a-f]{64}$/)
})

test('lilypad module render: a bad flag exits 2 with a clear message', async t => {
  const r = await cli('module', 'render', 'cowsay:v0.0.1', '--frobnicate')
  t.is(r.code, 2)
  t.regex(r.stderr, /error: Unknown option '--frobnicate'/)
  t.regex(r.stderr, /usage:/)
  const noRef = await cli('module', 'render')
  t.is(noRef.code, 2)
  t.regex(noRef.stderr, /needs a module reference/)
  const badInput = await cli('module', 'render', 'cowsay:v0.0.1', '-i', 'novalue')
  t.is(badInput.code, 2)
  t.regex(badInput.stderr, /ModuleInputError: input "novalue" is not Key=Value/)
})

test('lilypad module render: template errors name the line and column, without a stack trace', async t => {
  const root = await mkdtemp(join(tmpdir(), 'lilypad-cli-'))
  t.teardown(async () => { await rm(root, { recursive: true, force: true }) })
  const path = join(root, 'lilypad_module.json.tmpl')
  await writeFile(path, '{\n  "job": {{ shout .Message }}\n}')
  const r = await cli('module', 'render', path)
  t.is(r.code, 1)
  t.regex(r.stderr, /UnknownTemplateFunctionError: function "shout" not defined at 2:13/)
  t.notRegex(r.stderr, /at .*\.ts:\d+/)
  await writeFile(path, '{ "machine": {}, "job": { "Spec": { "Engine": "Docker", "Docker": { "Image": 5 } } } }')
  const r2 = await cli('module', 'render', path)
  t.is(r2.code, 1)
  t.regex(r2.stderr, /ModuleSpecError: job\.Spec\.Docker\.Image: expected a string, got number/)
})

test('lilypad module inputs lists what a template reads; render names a missing input and warns of trailing commas', async t => {
  const root = await mkdtemp(join(tmpdir(), 'lilypad-cli-'))
  t.teardown(async () => { await rm(root, { recursive: true, force: true }) })
  const path = join(root, 'lilypad_module.json.tmpl')
  await writeFile(path, `{
  "machine": { "gpu": 0, "cpu": 100, "ram": 32 },
  "job": { "APIVersion": "V1beta1", "Spec": { "Engine": "Docker",
    "Docker": { "Image": "example.org/sd:1", "Entrypoint": ["gen", {{ .Prompt }}],
      "EnvironmentVariables": [ {{ if .Seed }}"{{ subst "SEED=%s" .Seed }}"{{ else }}"SEED=42"{{ end }}, "A=1", ] },
    "Outputs": [ { "Name": "outputs", "Path": "/outputs" } ] } }
}`)
  const list = await cli('module', 'inputs', path)
  t.is(list.code, 0, list.stderr)
  t.deepEqual(list.stdout.trimEnd().split('\n').map(l => l.split(/\s{2,}/)), [
    ['INPUT', 'REQUIRED', 'DEFAULT', 'READ AT'],
    ['Prompt', 'yes', '-', '4:71'],
    ['Seed', 'no', '"42"', '5:39 5:67']
  ])
  const json = await cli('module', 'inputs', path, '--json')
  t.deepEqual((JSON.parse(json.stdout) as Array<{ name: string }>).map(i => i.name), ['Prompt', 'Seed'])

  const missing = await cli('module', 'render', path)
  t.is(missing.code, 2)
  t.regex(missing.stderr, /MissingInputError: missing input "Prompt" \(\.Prompt at 4:71 in the template\)/)
  t.regex(missing.stderr, new RegExp(`hint: pass -i Prompt=…; "lilypad module inputs ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}" lists`))
  t.notRegex(missing.stderr, /at .*\.ts:\d+/)

  const ok = await cli('module', 'render', path, '-i', 'Prompt=a frog', '--json')
  t.is(ok.code, 0, ok.stderr)
  t.deepEqual((JSON.parse(ok.stdout) as { env: unknown }).env, { SEED: '42', A: '1' })
  t.regex(ok.stderr, /^warning: trailing comma at line 5, column 49 of the rendered output \(from the template at 5:111\) was ignored here, but Lilypad \(Go's encoding\/json\) rejects the module/m)
})
