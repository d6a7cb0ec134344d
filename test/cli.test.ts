import test from 'ava'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)
const cli = (...args: string[]) => run(process.execPath, ['cli/bin.ts', ...args])

test('lilypad version prints the package version', async t => {
  const { stdout } = await cli('version')
  t.regex(stdout, /^lilypad \d+\.\d+\.\d+/)
})

test('an unknown command is a clear error with exit code 2', async t => {
  const err = await t.throwsAsync(cli('frobnicate')) as Error & { code: number, stderr: string }
  t.is(err.code, 2)
  t.regex(err.stderr, /unknown command "frobnicate"/)
  t.notRegex(err.stderr, /at .*\.ts:\d+/) // no stack trace
})
