// The console on a network of two chains, in a real headless Chromium (Debian's chromium, driven by playwright-core)
// against a two-chain devnet (two anvils, libp2p, Docker, Helia) and the user's node serving the console: the Run
// page's chain picker sends the job to the chain picked (it settles there, with exact balances, nothing moved on the
// other); the jobs list and the job page say which chain; the Wallet page shows the node's balances on each chain
// and deposits on the chain picked; a browser wallet (an injected EIP-1193 provider backed by an anvil key, on
// chain A until asked to switch) signs a job on chain B, and its deposit there pays. Serial: the tests share the
// devnet's accounts and check exact balances.
import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { launchChromium, openConsole as openConsoleOn } from './testing.ts'
import { JsonRpcProvider, Wallet, parseEther, type TypedDataField } from 'ethers'
import { startDevnet, DEVNET_KEYS, DEVNET_PRICE, DEVNET_CHAIN_ID, type Devnet } from '../node/devnet.ts'
import { ChainClient, devKey } from '../node/chain/index.ts'
import { chainsOf, chainView } from '../node/config/chains.ts'
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

async function openConsole (t: { teardown: (f: () => Promise<void>) => void }, opts: { init?: (p: Page) => Promise<void> } = {}): Promise<{ page: Page, requests: string[], errors: string[] }> {
  return await openConsoleOn(browser, user.consoleUrl!, t, opts)
}

/**
 * A browser wallet of the devnet's second user, as an extension would be: its key stays in this process, the page
 * sees requests and answers. It starts on the network's first chain and switches when the page asks.
 */
function testWallet (t: { teardown: (f: () => void) => void }): { address: string, asked: string[], typed: Array<{ domain: Record<string, unknown>, message: Record<string, unknown> }>, init: (p: Page) => Promise<void> } {
  const key = new Wallet(devKey(DEVNET_KEYS.user2))
  const rpcs = new Map(chainsOf(devnet.network).map(c => [c.chainId, new JsonRpcProvider(c.rpcUrl, undefined, { staticNetwork: true, pollingInterval: 100 })]))
  t.teardown(() => { for (const r of rpcs.values()) r.destroy() })
  let on = A
  const asked: string[] = []
  const typed: Array<{ domain: Record<string, unknown>, message: Record<string, unknown> }> = []
  return {
    address: key.address,
    asked,
    typed,
    init: async p => {
      await p.exposeFunction('testWallet', async (method: string, params: unknown[]) => {
        asked.push(method)
        switch (method) {
          case 'eth_requestAccounts': case 'eth_accounts': return [key.address]
          case 'eth_chainId': return `0x${on.toString(16)}`
          case 'wallet_switchEthereumChain': {
            const id = Number((params[0] as { chainId: string }).chainId)
            if (!rpcs.has(id)) throw new Error(`unknown chain ${id}`)
            on = id
            return null
          }
          case 'eth_signTypedData_v4': {
            const td = JSON.parse(params[1] as string) as { domain: Record<string, unknown>, types: Record<string, TypedDataField[]>, message: Record<string, unknown> }
            typed.push({ domain: td.domain, message: td.message })
            const { EIP712Domain: _, ...types } = td.types
            return await key.signTypedData(td.domain, types, td.message)
          }
          case 'eth_sendTransaction': {
            const tx = params[0] as { to: string, data: string }
            const sent = await key.connect(rpcs.get(on)!).sendTransaction({ to: tx.to, data: tx.data })
            await sent.wait()
            return sent.hash
          }
          default: throw new Error(`unsupported method ${method}`)
        }
      })
      await p.addInitScript('window.ethereum = { request: async ({ method, params }) => await window.testWallet(method, params ?? []) }')
    }
  }
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

test.serial('a browser wallet signs a job on chain B: switched to chain B, it signs the job offer, the deal and the acceptance for chain B\'s Market; its deposit there pays, nothing moves on chain A', async t => {
  t.timeout(180_000)
  const wallet = testWallet(t)
  const { page, errors } = await openConsole(t, { init: wallet.init })
  const rp = devnet.provider.chain.address
  const deposit = async (chainId: number, who: string): Promise<bigint> => await reader(chainId).depositOf(who)
  const before = { wB: await deposit(B, wallet.address), wA: await deposit(A, wallet.address), rB: await deposit(B, rp), rA: await deposit(A, rp) }
  await page.getByLabel(/^Chain/).selectOption(String(B))
  await page.getByLabel('Module', { exact: true }).selectOption('cowsay:v0.0.1')
  await page.getByLabel('Message').fill('signed for chain B')
  await page.getByLabel('Sign with my browser wallet', { exact: false }).check()
  await page.getByRole('button', { name: 'Run' }).click()
  await page.waitForURL(/#\/jobs\/job-[0-9a-f]{16}$/)
  const id = page.url().split('/').at(-1)!
  const stdout = page.getByLabel('stdout', { exact: true })
  await stdout.waitFor({ timeout: 150_000 })
  t.true((await stdout.textContent())!.includes('< signed for chain B >'))
  t.true(wallet.asked.includes('wallet_switchEthereumChain'), 'the wallet was switched to chain B')
  const job = user.node.jobs!.get(id)
  t.is(job.chainId, B)
  const dealId = job.outcome!.dealId
  const rec = (await (await user.node.jobCreatorOn(B)).deals.get(dealId))!
  t.is(rec.deal.jobCreator, wallet.address, 'the wallet is the deal\'s job creator')
  // the job offer as matched, the same asking for the slot it is proposed to (protocols/slot-ask.ts), the deal, the
  // acceptance
  t.deepEqual(job.events.filter(e => e.type === 'sign').map(e => e.data.kind), ['JobOffer', 'JobOffer', 'Deal', 'Accept'])
  // every signature was asked for chain B's Market
  const marketB = chainView(devnet.network, B).contracts.market.toLowerCase()
  t.is(wallet.typed.length, 4)
  for (const td of wallet.typed) {
    t.is(Number(td.domain.chainId), B)
    t.is(String(td.domain.verifyingContract).toLowerCase(), marketB)
  }
  t.is((await reader(B).dealRecord(dealId)).state, 'Settled')
  t.is((await reader(A).dealRecord(dealId)).state, 'None')
  const after = { wB: await deposit(B, wallet.address), wA: await deposit(A, wallet.address), rB: await deposit(B, rp), rA: await deposit(A, rp) }
  t.is(before.wB - after.wB, rec.deal.price, 'the wallet\'s deposit on chain B paid the price (the mediation fee came back)')
  t.is(after.rB - before.rB, rec.deal.price, 'the provider was paid on chain B')
  t.deepEqual([after.wA, after.rA], [before.wA, before.rA], 'nothing moved on chain A')
  t.deepEqual(errors, [])
})

test.serial('Network page: the chain picked shows its own chain id and head, and its order book with the devnet\'s provider', async t => {
  t.timeout(60_000)
  const { page, errors } = await openConsole(t)
  await page.getByRole('link', { name: 'Network', exact: true }).click()
  const chainIdShown = (id: number) => page.locator('xpath=//dt[.="Chain id"]/following-sibling::dd[1]', { hasText: new RegExp(`^${id}$`) })
  await chainIdShown(A).waitFor()
  const row = page.locator(`table[aria-label="Providers"] tr[data-provider="${devnet.provider.chain.address}"]`)
  await row.waitFor()
  await page.getByLabel('Show the chain').selectOption(String(B))
  await chainIdShown(B).waitFor()
  await row.waitFor()
  t.is(await row.locator('.badge.standing-ok').count(), 1, 'its standing from chain B\'s records')
  t.deepEqual(errors, [])
})
