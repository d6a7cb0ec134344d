import test from 'ava'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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

// Bad flags fail before anything starts (no devnet, no chain): exit code 2, a message naming the problem, no stack.
const badFlags: Array<[string[], RegExp]> = [
  [['run'], /missing the module/],
  [['run', 'cowsay:v0.0.1', '--bogus'], /Unknown option '--bogus'/],
  [['run', 'cowsay:v0.0.1', '-i', 'Message'], /not Key=Value/],
  [['run', 'cowsay:v0.0.1', '--audit', '1.5'], /between 0 and 1/],
  [['run', 'cowsay:v0.0.1', '--target', 'nobody'], /not an Ethereum address/],
  [['run', 'cowsay:v0.0.1', '--max-price', 'lots'], /not an LP amount/],
  [['run', 'cowsay:v0.0.1', '--timeout=0'], /positive number of seconds/],
  [['run', 'cowsay:v0.0.1', '--gpu', '1.5'], /--gpu "1\.5" must be a whole number from 0 to 65535/],
  [['run', 'cowsay:v0.0.1', '--vram=-8'], /--vram "-8" must be a whole number/],
  [['run', 'cowsay:v0.0.1', '--gpu-model', ''], /--gpu-model needs a model name/],
  [['run', 'cowsay:v0.0.1', '--cpu', 'lots'], /--cpu "lots" must be a number of cores, e.g. 1 or 0.5/],
  [['run', 'cowsay:v0.0.1', '--cpu', '0'], /--cpu "0" must be a number of cores/],
  [['run', 'cowsay:v0.0.1', '--ram', '1.5'], /--ram "1\.5" must be a whole number/],
  [['run', 'wordcount:v0.1.0', '--input-file', 'Data'], /input file "Data" is not Name=PATH/],
  [['run', 'wordcount:v0.1.0', '--input-file', 'no-dash=./x'], /input name "no-dash" is not a template field name/],
  [['run', 'wordcount:v0.1.0', '--input-file', 'Data=/nonexistent/words.txt'], /--input-file Data=\/nonexistent\/words.txt: no such file or directory/],
  [['run', 'wordcount:v0.1.0', '-i', 'Data=bafy', '--input-file', 'Data=./package.json'], /input Data is given both with -i and with --input-file/],
  [['node', '--roles', 'baker'], /unknown role "baker"/],
  [['node'], /at least one role/],
  [['node', '--roles', 'resource-provider', '--input-allow', '10.0.0.0/33'], /--input-allow: bad prefix length in "10.0.0.0\/33"/],
  [['node', '--roles', 'resource-provider', '--input-ca', '/nonexistent/ca.pem'], /--input-ca \/nonexistent\/ca.pem: no such file/],
  [['node', '--roles', 'resource-provider', '--input-ca', './package.json'], /--input-ca .\/package.json: not a PEM certificate file/],
  [['devnet', '--port', 'high'], /TCP port/],
  [['devnet', '--chains', '5'], /--chains "5" must be a whole number from 1 to 4/],
  [['run', 'cowsay:v0.0.1', '--chain', 'Main Net'], /--chain "Main Net" must be a chain id or a chain name/],
  [['balance', '--chain', '_'], /--chain "_" must be a chain id or a chain name/],
  [['network', 'add-chain', 'mine', '--contracts-from', 'x.json'], /add-chain needs --rpc URL/],
  [['network', 'add-chain', 'mine', '--rpc', 'http://127.0.0.1:1', '--contracts-from', 'x.json', '--open'], /--open belongs to "network init"/],
  [['network', 'add-chain', 'mine', '--rpc', 'http://127.0.0.1:1', '--contracts-from', 'x.json', '--name', 'Beta'], /--name "Beta" must start with a letter/],
  [['network', 'init', 'mine', '--contracts-from', 'x.json', '--name', 'beta'], /--name names a chain added with "network add-chain"/],
  [['network', 'init', 'Bad_Id', '--deploy', '--key-env', 'K', '--rpc', 'http://127.0.0.1:1'], /lowercase letters/],
  [['network', 'init', 'mine'], /needs contracts/],
  [['network', 'init', 'mine', '--deploy', '--key-env', 'K', '--rpc', 'http://127.0.0.1:1', '--module-price', 'cowsay:v0.0.1'], /expected NAME=LP/],
  [['network', 'init', 'mine', '--deploy', '--key-env', 'K', '--rpc', 'http://127.0.0.1:1', '--bridge', 'someone'], /not an Ethereum address/],
  [['network', 'init', 'mine', '--deploy', '--key-env', 'K', '--rpc', 'http://127.0.0.1:1', '--committee-size', '4'], /--committee-size "4" must be odd, from 1 to 9/],
  [['network', 'init', 'mine', '--deploy', '--key-env', 'K', '--rpc', 'http://127.0.0.1:1', '--committee-size', '11'], /--committee-size "11" must be odd, from 1 to 9/],
  [['network', 'init', 'mine', '--deploy', '--key-env', 'K', '--rpc', 'http://127.0.0.1:1', '--min-bond', '10', '--slash', '20'], /--slash 20 LP is more than --min-bond 10 LP/],
  [['network', 'init', 'mine', '--deploy', '--key-env', 'K', '--rpc', 'http://127.0.0.1:1', '--commit-window', 'soon'], /--commit-window "soon" must be a duration/],
  [['network', 'init', 'mine', '--deploy', '--key-env', 'K', '--rpc', 'http://127.0.0.1:1', '--committee-size', '1', '--slash', '2'], /apply to committees: give --committee-size 3 or more/],
  [['network', 'init', 'mine', '--contracts-from', 'x.json', '--committee-size', '3'], /--committee-size: committee rules are fixed when the Market is deployed/],
  [['mediator', 'bond'], /give one amount in LP to bond/],
  [['mediator', 'bond', 'lots'], /"lots" is not an LP amount/],
  [['mediator', 'unbond', '0'], /the amount must be more than 0/],
  [['mediator', 'withdraw-bond', '5'], /"lilypad mediator withdraw-bond" takes no amount/],
  [['mediator', 'status', '--restart-wait'], /--restart-wait goes with "lilypad mediator unbond"/],
  [['mediator', 'resign'], /unknown mediator command "resign"/],
  [['devnet', '--committee-size', '2'], /--committee-size "2" must be odd/],
  [['devnet', '--mediators', '1', '--committee-size', '3'], /--committee-size 3 needs at least 3 mediators, not 1/],
  [['devnet', '--mediators', '10'], /--mediators "10" must be a whole number from 1 to 9/],
  [['devnet', '--no-mediator', '--mediators', '3'], /--no-mediator runs no mediator/],
  [['faucet', '--address', 'me'], /not an Ethereum address/],
  [['node', '--roles', 'resource-provider', '--gateway', 'web'], /--gateway must be a TCP port number/],
  [['node', '--roles', 'none', '--api', '70000'], /--api must be a TCP port number/],
  [['node', '--roles', 'none', '--api', '0', '--no-api'], /--api and --no-api exclude each other/],
  [['node', '--roles', 'none', '--ui', '--no-api'], /--ui serves the console from the API: it cannot go with --no-api/],
  [['jobs', '--state', 'lost'], /--state must be one of/],
  [['jobs', '--limit', '0'], /--limit must be a whole number/],
  [['job'], /missing the job id/],
  [['job', 'j1'], /"j1" is not a job id/],
  [['cancel', 'job-0123456789abcdef', 'job-0123456789abcdee'], /one job id only/],
  [['logs', '--follow'], /missing the job id/],
  [['deposit'], /give one amount in LP/],
  [['deposit', '1.5.2'], /"1.5.2" is not an LP amount/],
  [['withdraw', '0'], /the amount must be more than 0/],
  [['balance', 'all'], /unexpected all/],
  [['get'], /name the deal id or CID to fetch/],
  [['get', 'not-a-cid'], /"not-a-cid" is neither a deal id \(0x and 64 hex digits\) nor a CID/],
  [['get', '0x1234'], /"0x1234" is neither a deal id/],
  [['get', 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi', '--timeout', '99999'], /--timeout "99999" must be a whole number of seconds from 1 to 3600/],
  [['rewards'], /name what to do/],
  [['rewards', 'steal'], /unknown rewards command "steal"/],
  [['rewards', 'compute', '--epoch', 'last'], /--epoch "last" must be a whole number/],
  [['rewards', 'claim', '--account', 'me'], /--account "me" is not an Ethereum address/],
  [['rewards', 'compute', '--account', '0x0000000000000000000000000000000000000001'], /--account is for claim/],
  [['rewards', 'record'], /one FILE of signed canary reports/],
  [['leaderboard', '--epochs', '0'], /--epochs "0" must be a whole number from 1/]
]
// What makes a usage error slow is loading a node's code: none of it loads before the flags are checked.
const HEAVY = /node_modules\/(libp2p|@libp2p|ethers|helia|@helia|dockerode|@chainsafe)\//
for (const [args, message] of badFlags) {
  test(`"lilypad ${args.join(' ')}" is a usage error (exit 2)`, async t => {
    const dir = await mkdtemp(join(tmpdir(), 'lilypad-loads-'))
    t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
    const loads = join(dir, 'loads.txt')
    const err = await t.throwsAsync(run(process.execPath, ['--import', './test/support/record-loads.ts', 'cli/bin.ts', ...args], { env: { ...process.env, LILYPAD_RECORD_LOADS: loads } })) as Error & { code: number, stderr: string }
    t.is(err.code, 2)
    t.regex(err.stderr, message)
    t.regex(err.stderr, /hint: usage:/)
    t.notRegex(err.stderr, /at .*\.ts:\d+/)
    const loaded = (await readFile(loads, 'utf8')).split('\n')
    t.true(loaded.some(u => u.endsWith('/cli/bin.ts')), 'the load recorder saw the CLI')
    t.deepEqual(loaded.filter(u => HEAVY.test(u)), [], 'no node code loaded for a usage error')
  })
}

test('an unknown network is a clear error naming what to do', async t => {
  const err = await t.throwsAsync(run(process.execPath, ['cli/bin.ts', 'run', 'cowsay:v0.0.1', '--network', 'nowhere'], { env: { ...process.env, LILYPAD_HOME: '/nonexistent-lilypad-home' } })) as Error & { code: number, stderr: string }
  t.is(err.code, 2)
  t.regex(err.stderr, /no network named "nowhere"/)
  t.regex(err.stderr, /hint: .*lilypad devnet/)
})
