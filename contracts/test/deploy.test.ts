// deployAll against a real anvil writes a network file nodes can join with.
import test from 'ava'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { JsonRpcProvider, Network, Wallet } from 'ethers'
import { startAnvil } from '../../node/chain/anvil.ts'
import { deployAll, defaultExampleClient } from '../deploy.ts'
import { connectDirectory, connectLilypadToken } from '../generated/index.ts'
import type { NetworkFile } from '../../node/config/network.ts'

test('deployAll deploys every contract, approves mediators and writes the network file', async t => {
  const anvil = await startAnvil({ chainId: 1337 })
  const dir = mkdtempSync(join(tmpdir(), 'lilypad-deploy-'))
  const provider = new JsonRpcProvider(anvil.rpcUrl, Network.from(1337), { staticNetwork: true, cacheTimeout: -1 })
  t.teardown(async () => { provider.destroy(); await anvil.stop(); rmSync(dir, { recursive: true, force: true }) })
  const mediator = new Wallet(anvil.keys[5]).address
  const out = join(dir, 'network.json')
  const d = await deployAll({ rpcUrl: anvil.rpcUrl, privateKey: anvil.keys[0], networkId: 'devnet', mediators: [mediator], exampleClient: defaultExampleClient, out })
  const file = JSON.parse(readFileSync(out, 'utf8')) as NetworkFile
  t.deepEqual(file, d.network)
  t.is(file.chainId, 1337)
  t.is(file.networkId, 'devnet')
  t.deepEqual(file.mediators, [mediator])
  t.true(file.deployBlock > 0)
  for (const address of Object.values(file.contracts)) t.not(await provider.getCode(address), '0x')
  t.true(await connectDirectory(file.contracts.directory, provider).approvedMediator(mediator))
  const token = connectLilypadToken(file.contracts.token, provider)
  t.is(await token.balanceOf(file.contracts.faucet!), 10_000_000n * 10n ** 18n)
  t.is(await token.balanceOf(file.contracts.exampleClient!), defaultExampleClient.fund)
  t.is(await token.symbol(), 'LP')
})
