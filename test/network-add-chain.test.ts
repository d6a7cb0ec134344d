// `lilypad network add-chain` against two real anvils: a network made with `network init --deploy` on one chain
// settles on a second once the contracts are deployed there too; the file lists both chains and loads as such; a
// chain the network already has is refused before anything is deployed.
import test from 'ava'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startAnvil, type Anvil } from '../node/chain/anvil.ts'
import { loadNetwork } from '../node/config/load.ts'
import { chainsOf, chainView } from '../node/config/chains.ts'
import { ChainClient } from '../node/chain/index.ts'

const run = promisify(execFile)
let home: string
let a: Anvil
let b: Anvil

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'lilypad-add-chain-'));
  [a, b] = await Promise.all([startAnvil({ chainId: 31337 }), startAnvil({ chainId: 31338 })])
})
test.after.always(async () => {
  await Promise.all([a?.stop(), b?.stop()])
  if (home !== undefined) await rm(home, { recursive: true, force: true })
})

async function cli (...args: string[]): Promise<{ stdout: string, stderr: string }> {
  return await run(process.execPath, ['cli/bin.ts', ...args], { env: { ...process.env, LILYPAD_HOME: home, DEPLOYER_KEY: a.keys[0], WEB3_RPC_URL: '' }, timeout: 120_000 })
}

test('network init, then add-chain --deploy: the file lists both chains, each with its own contracts', async t => {
  await cli('network', 'init', 'duo', '--rpc', a.rpcUrl, '--deploy', '--key-env', 'DEPLOYER_KEY', '--committee-size', '1', '--open', '--mediator', '0x' + '44'.repeat(20))
  const { stdout } = await cli('network', 'add-chain', 'duo', '--rpc', b.rpcUrl, '--deploy', '--key-env', 'DEPLOYER_KEY', '--committee-size', '1', '--name', 'beta', '--mediator', '0x' + '55'.repeat(20))
  t.regex(stdout, /chain 31338 \(beta\) added to the network "duo" in .*duo\.json: it settles on 2 chains/)
  const raw = JSON.parse(await readFile(join(home, 'networks', 'duo.json'), 'utf8')) as Record<string, unknown>
  t.false('chainId' in raw, 'a chains list, no top-level chain')
  const { network } = await loadNetwork('duo', { LILYPAD_HOME: home })
  const chains = chainsOf(network)
  t.deepEqual(chains.map(c => [c.chainId, c.name]), [[31337, undefined], [31338, 'beta']])
  t.is(network.networkId, 'duo')
  // mediators are per chain
  t.deepEqual(chains[0].mediators?.map(m => m.toLowerCase()), ['0x' + '44'.repeat(20)])
  t.deepEqual(chains[1].mediators?.map(m => m.toLowerCase()), ['0x' + '55'.repeat(20)])
  // each chain's Market is where the file says, on its own chain
  for (const c of chains) {
    const client = await ChainClient.create({ network: chainView(network, c.chainId), privateKey: a.keys[1] })
    t.teardown(async () => { await client.stop() })
    t.not(await client.provider.getCode(c.contracts.market), '0x')
  }
  // the same chain again: refused before anything is deployed
  const err = await t.throwsAsync(cli('network', 'add-chain', 'duo', '--rpc', b.rpcUrl, '--deploy', '--key-env', 'DEPLOYER_KEY')) as Error & { code: number, stderr: string }
  t.is(err.code, 2)
  t.regex(err.stderr, /the network "duo" already settles on chain 31338/)
  t.notRegex(err.stderr, /at .*\.ts:\d+/)
})
