// `lilypad resource-provider --executor …`: bad values fail before anything starts (exit code 2, the problem
// named, no stack trace).
import test from 'ava'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)
const cli = async (...args: string[]): Promise<unknown> => await run(process.execPath, ['cli/bin.ts', ...args])

const badFlags: Array<[string[], RegExp]> = [
  [['resource-provider', '--executor', 'kubernetes'], /--executor must be docker \(this machine's engine\) or swarm \(a Docker Swarm cluster\), not "kubernetes"/],
  [['resource-provider', '--executor', 'swarm', '--max-slots', '0'], /--max-slots must be a positive integer/],
  [['resource-provider', '--max-slots', '4'], /--max-slots bounds a cluster provider's slots: it goes with --executor swarm/]
]

for (const [args, message] of badFlags) {
  test(`lilypad ${args.join(' ')}: a usage error`, async t => {
    const err = await t.throwsAsync(cli(...args)) as Error & { code: number, stderr: string }
    t.is(err.code, 2)
    t.regex(err.stderr, message)
    t.regex(err.stderr, /--executor docker\|swarm/, 'the usage names the flag')
    t.notRegex(err.stderr, /at .*\.ts:\d+/)
  })
}
