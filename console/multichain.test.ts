// The console on a network of two chains, in a real headless Chromium (Debian's chromium, driven by playwright-core)
// against a two-chain devnet (two anvils, libp2p, Docker, Helia) and the user's node serving the console: the Run
// page's chain picker sends the job to the chain picked (it settles there, with exact balances, nothing moved on the
// other); the jobs list and the job page say which chain; the Wallet page shows the node's balances on each chain
// and deposits on the chain picked. Serial: the tests share the user's key and check exact balances.
import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { launchChromium, openConsole as openConsoleOn } from './testing.ts'
import { Wallet, parseEther } from 'ethers'
import { startDevnet, DEVNET_KEYS, DEVNET_PRICE, DEVNET_CHAIN_ID, type Devnet } from '../node/devnet.ts'
import { ChainClient, devKey } from '../node/chain/index.ts'
import { chainsOf } from '../node/config/chains.ts'
import { startUserNode, type UserNode } from '../node/api/user-node.ts'
import { formatLP } from '../core/lp.ts'

const A = DEVNET_CHAIN_ID
const B = DEVNET_CHAIN_ID + 1
const userKey = devKey(DEVNET_KEYS.user)
const userAddress = new Wallet(userKey).address

let home: string
let devnet: Devnet
let user: UserNode
let browser: Browser
const readers = new Map<number, ChainClient>()

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'lilypad-console-multichain-'))
  devnet = await startDevnet({ home, port: 0, slots: 2, chains: 2, mediator: false })
  for (const c of chainsOf(devnet.network)) readers.set(c.chainId, await ChainClient.create({ network: c, privateKey: devKey(DEVNET_KEYS.admin) }))
  user = await startUserNode({
    home, network: devnet.network, networkPath: devnet.networkPath, privateKey: userKey, dataDir: join(home, 'nodes', 'devnet', userAddress.toLowerCase()), roles: [], local: true,
    components: { logger: { level: 'warn' } },
    api: { port: 0, console: true }
  })
  browser = await launchChromium()
})

test.after.always(async () => {
  await browser?.close()
  await user?.stop()
  for (const r of readers.values()) await r.stop()
  await devnet?.stop()
  if (home !== undefined) await rm(home, { recursive: true, force: true })
})

function reader (chainId: number): ChainClient {
  const r = readers.get(chainId)
  if (r === undefined) throw new Error(`no reader for chain ${chainId}`)
  return r
}

async function openConsole (t: { teardown: (f: () => Promise<void>) => void }): Promise<{ page: Page, requests: string[], errors: string[] }> {
  return await openConsoleOn(browser, user.consoleUrl!, t)
}

const deposits = async (): Promise<bigint[]> => await Promise.all([A, B].map(async id => await reader(id).depositOf(userAddress)))

test.serial('Run page: the chain picker sends the job to chain B; it settles there with exact balances, chain A untouched; the jobs list and the job page say so', async t => {
  t.timeout(180_000)
  const { page, errors, requests } = await openConsole(t)
  const picker = page.getByLabel(/^Chain/)
  t.deepEqual(await picker.locator('option').allTextContents(), [`devnet-${A} (${A}) — the network's first`, `devnet-${B} (${B})`])
  t.is(await picker.inputValue(), String(A), 'the network\'s first chain by default')
  await picker.selectOption(String(B))
  await page.getByLabel('Module', { exact: true }).selectOption('cowsay:v0.0.1')
  await page.getByLabel('Message').fill('moo on chain B')
  const rp = devnet.provider.chain.address
  const [jc0, rp0] = [await deposits(), await Promise.all([A, B].map(async id => await reader(id).depositOf(rp)))]
  await page.getByRole('button', { name: 'Run' }).click()
  await page.waitForURL(/#\/jobs\/job-[0-9a-f]{16}$/)
  const id = page.url().split('/').at(-1)!
  t.is(await page.locator('#job-chain').textContent(), `devnet-${B} (${B})`)
  const stdout = page.getByLabel('stdout', { exact: true })
  await stdout.waitFor({ timeout: 150_000 })
  t.true((await stdout.textContent())!.includes('< moo on chain B >'))
  const job = user.node.jobs!.get(id)
  t.is(job.chainId, B)
  const dealId = job.outcome!.dealId
  t.is((await reader(B).dealRecord(dealId)).state, 'Settled')
  t.is((await reader(A).dealRecord(dealId)).state, 'None')
  const [jc1, rp1] = [await deposits(), await Promise.all([A, B].map(async id => await reader(id).depositOf(rp)))]
  t.is(jc0[1] - jc1[1], DEVNET_PRICE, 'the job creator paid the price on chain B')
  t.is(rp1[1] - rp0[1], DEVNET_PRICE, 'the provider earned it on chain B')
  t.deepEqual([jc1[0], rp1[0]], [jc0[0], rp0[0]], 'nothing moved on chain A')
  // the jobs list has a chain column
  await page.getByRole('link', { name: 'Jobs', exact: true }).first().click()
  const row = page.locator(`tr[data-job="${id}"]`)
  await row.waitFor()
  t.is(await row.locator('td[data-field="chain"]').textContent(), `devnet-${B} (${B})`)
  t.deepEqual(requests.filter(u => !u.startsWith(`${user.api!.url}/`) && !u.startsWith('blob:') && !u.startsWith('data:')), [])
  t.deepEqual(errors, [])
})

test.serial('Wallet page: the node\'s balances on each chain; a deposit and a withdrawal on the chain picked move LP there only', async t => {
  t.timeout(120_000)
  const { page, errors } = await openConsole(t)
  await page.getByRole('link', { name: 'Wallet' }).click()
  const table = page.getByRole('table', { name: 'The node\'s balances on each chain' })
  await table.locator('tr[data-chain] td[data-field="deposit"]').first().waitFor()
  const shown = async (chainId: number): Promise<string> => (await table.locator(`tr[data-chain="${chainId}"] td[data-field="deposit"]`).textContent())!
  const [a0, b0] = await deposits()
  const lp = (wei: bigint): string => `${formatLP(wei)} LP`
  t.is(await shown(A), lp(a0))
  t.is(await shown(B), lp(b0))
  await page.getByLabel('Chain for deposits and withdrawals').selectOption(String(B))
  await page.getByLabel(`Deposit on devnet-${B} (${B})`).fill('2')
  await page.getByRole('button', { name: 'Deposit', exact: true }).click()
  await table.locator(`tr[data-chain="${B}"] td[data-field="deposit"]`, { hasText: lp(b0 + parseEther('2')) }).waitFor({ timeout: 60_000 })
  t.deepEqual(await deposits(), [a0, b0 + parseEther('2')], 'deposited 2 LP on chain B, nothing on chain A')
  await page.getByLabel(`Withdraw on devnet-${B} (${B})`).fill('0.5')
  await page.getByRole('button', { name: 'Withdraw', exact: true }).click()
  await table.locator(`tr[data-chain="${B}"] td[data-field="deposit"]`, { hasText: lp(b0 + parseEther('1.5')) }).waitFor({ timeout: 60_000 })
  t.deepEqual(await deposits(), [a0, b0 + parseEther('1.5')])
  t.is(await shown(A), lp(a0))
  t.deepEqual(errors, [])
})
