// The console in a real headless Chromium (Debian's chromium, driven by playwright-core) against one in-process
// devnet (real anvil, libp2p, Docker, Helia) and the user's node serving the console: cowsay run from the form
// shows the cow; the identicon module's image is shown; a queued job is cancelled; the network page lists the
// devnet's provider; a browser wallet (an injected EIP-1193 provider backed by an anvil key) signs a permit and
// sends the deposit itself. The page never asks anything of another origin. The API's new routes refuse hostile
// input with named errors. With LILYPAD_CONSOLE_SCREENSHOTS=<dir> each page is also saved as a PNG there
// (docs/console/ holds the committed ones). Serial: the tests share one node whose jobs run one at a time.
import test from 'ava'
import { request } from 'node:http'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { launchChromium, openConsole as openConsoleOn } from './testing.ts'
import { JsonRpcProvider, Wallet, parseEther, type TypedDataField } from 'ethers'
import { startDevnet, DEVNET_KEYS, type Devnet } from '../node/devnet.ts'
import { ChainClient, devKey, waitForReceipt } from '../node/chain/index.ts'
import { connectLilypadToken } from '../contracts/generated/index.ts'
import { startUserNode, type UserNode } from '../node/api/user-node.ts'
import type { JobRecord } from '../node/jobs/index.ts'
import { LilypadNode } from '../node/node.ts'
import { BUILTIN_MODULES_DIR, loadRegistry } from '../node/modules/index.ts'
import { CONSOLE_CSP } from '../node/api/console.ts'
import { LineLog } from '../node/testing/lines.ts'
import { recoverSigner } from '../protocols/eip712.ts'

const SHOTS = process.env.LILYPAD_CONSOLE_SCREENSHOTS
/** an address no provider has: a job targeted at it looks for a provider until its match timeout */
const NOBODY = '0x000000000000000000000000000000000000dEaD'

let home: string
let devnet: Devnet
let user: UserNode
let browser: Browser
let origin: string
let modulesDir: string
const userKey = devKey(DEVNET_KEYS.user)
const TICKER = 'ticker:v0.1.0'

/**
 * A ticker module (the stress image printing a line, waiting 5 s in the container, printing another): the user
 * node's modules are the built-ins plus it, the ticker provider's only it.
 */
async function writeModules (dir: string, withBuiltins: boolean): Promise<void> {
  const registry: Record<string, { dir: string, image?: string, description?: string }> = {}
  if (withBuiltins) for (const [ref, e] of Object.entries(loadRegistry())) registry[ref] = { ...e, dir: join(BUILTIN_MODULES_DIR, e.dir) }
  registry[TICKER] = { dir: 'ticker', description: 'prints a line, waits, prints another' }
  await mkdir(join(dir, 'ticker'), { recursive: true })
  await writeFile(join(dir, 'registry.json'), JSON.stringify(registry))
  await writeFile(join(dir, 'ticker', 'lilypad_module.json.tmpl'), JSON.stringify({
    machine: { gpu: 0, cpu: 500, ram: 64 },
    job: { APIVersion: 'V1beta1', Spec: { Engine: 'Docker', Docker: { Image: 'lilypad/stress:v0.1.0', Entrypoint: ['/bin/sh', '-c', 'echo tick 1; sleep 5; echo tick 2'] }, Network: { Type: 'None' }, Timeout: 60, Outputs: [{ Name: 'outputs', Path: '/outputs' }] } }
  }))
}

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'lilypad-console-'))
  devnet = await startDevnet({ home, port: 0, slots: 2, mediator: false })
  const address = new Wallet(userKey).address
  modulesDir = join(home, 'modules')
  await writeModules(modulesDir, true)
  user = await startUserNode({
    // a block explorer in the network file: the job page links each transaction to it (the devnet's own file has none)
    home, network: { ...devnet.network, explorerUrl: EXPLORER }, networkPath: devnet.networkPath, privateKey: userKey, dataDir: join(home, 'nodes', 'devnet', address.toLowerCase()), roles: [], local: true,
    components: { logger: { level: 'warn' } },
    // one job at a time, so a second one waits as queued; a job for nobody looks for a provider this long
    jobs: { maxRunning: 1 },
    // a result not fetched in 15 s is challenged (the default, 60 s, only makes the wallet's challenge test slower)
    jobCreator: { matchTimeoutMs: 60_000, modulesDir, fetchTimeoutMs: 15_000 },
    api: { port: 0, console: true }
  })
  origin = user.api!.url
  browser = await launchChromium()
  if (SHOTS !== undefined) await mkdir(SHOTS, { recursive: true })
})

test.after.always(async () => {
  await browser?.close()
  await user?.stop()
  await devnet?.stop()
  if (home !== undefined) await rm(home, { recursive: true, force: true })
})

/** A page on the console, with every request it makes and every script error recorded. */
async function openConsole (t: { teardown: (f: () => Promise<void>) => void }, opts: { width?: number, init?: (p: Page) => Promise<void> } = {}): Promise<{ page: Page, requests: string[], errors: string[] }> {
  return await openConsoleOn(browser, user.consoleUrl!, t, opts)
}

async function shot (page: Page, name: string, opts: { top?: boolean } = {}): Promise<void> {
  if (SHOTS === undefined) return
  if (opts.top === true) await page.evaluate('scrollTo(0, 0)')
  await page.screenshot({ path: join(SHOTS, `${name}.png`) })
}

/** Every request went to the node's own origin (or a blob: URL the page made of a result file). */
function onlyOwnOrigin (requests: string[]): string[] {
  return requests.filter(u => !u.startsWith(`${origin}/`) && !u.startsWith('blob:') && !u.startsWith('data:'))
}

async function jobWhen (id: string, cond: (j: JobRecord) => boolean): Promise<JobRecord> {
  const jobs = user.node.jobs!
  if (cond(jobs.get(id))) return jobs.get(id)
  return await new Promise(resolve => {
    const onEvent = (jobId: string): void => { if (jobId === id && cond(jobs.get(id))) { jobs.off('event', onEvent); resolve(jobs.get(id)) } }
    jobs.on('event', onEvent)
  })
}

test.serial('served by the node: /ui/ with a strict CSP, / redirects there, the console URL carries the token', async t => {
  t.regex(user.consoleUrl!, /^http:\/\/127\.0\.0\.1:\d+\/ui\/#token=[0-9a-f]{64}$/)
  const ui = await raw('GET', '/ui/')
  t.is(ui.status, 200)
  t.is(ui.headers['content-security-policy'], CONSOLE_CSP)
  t.regex(ui.body, /<script type="module" src="\/ui\/app\.js">/)
  const js = await raw('GET', '/ui/app.js')
  t.is(js.status, 200)
  t.regex(String(js.headers['content-type']), /javascript/)
  t.false(/https?:\/\/(?!127\.0\.0\.1|localhost|www\.w3\.org)/.test(js.body.replace(/"http:\/\/www\.w3\.org[^"]*"/g, '')), 'no address of another host in the bundle')
  t.is((await raw('GET', '/')).headers.location, '/ui/')
  t.is((await raw('GET', '/ui/nothing.js')).status, 404)
})

const EXPLORER = 'https://explorer.example'

test.serial('Run page: cowsay from the form (keyboard), phases live, the cow, the CID, files downloadable; fits a phone screen', async t => {
  t.timeout(180_000)
  const { page, requests, errors } = await openConsole(t)
  await page.getByLabel('Module', { exact: true }).selectOption('cowsay:v0.0.1')
  const message = page.getByLabel('Message')
  t.is(await message.inputValue(), 'hello, lilypad', 'the form starts with the template\'s default')
  await message.fill('moo from the console')
  await shot(page, 'run')
  await message.press('Enter')
  await page.waitForURL(/#\/jobs\/job-[0-9a-f]{16}$/)
  const stdout = page.getByLabel('stdout', { exact: true })
  await stdout.waitFor({ timeout: 150_000 })
  const cow = await stdout.textContent()
  t.true(cow!.includes('< moo from the console >'), cow!)
  t.true(cow!.includes('(oo)'))
  const cid = await page.locator('dd code.cid').first().textContent()
  t.regex(cid!, /^bafy/)
  // the phases arrived over the event stream, in order
  const phases = await page.locator('ol.events li[data-type="phase"]').allTextContents()
  for (const p of ['offered', 'matched', 'agreed', 'downloaded']) t.true(phases.some(x => x.includes(p)), `phase ${p} in ${phases.join(' | ')}`)
  // each transaction links to the network's explorer (a link, not a request: the page still asks only its node)
  const txLinks = await page.locator('ol.events li[data-type="tx"] a.tx').evaluateAll(as => as.map(a => [a.getAttribute('href'), a.getAttribute('rel')]))
  t.true(txLinks.length >= 1, 'a transaction link')
  for (const [href, rel] of txLinks) { t.regex(href!, new RegExp(`^${EXPLORER}/tx/0x[0-9a-f]{64}$`)); t.is(rel, 'noopener noreferrer') }
  await t.notThrowsAsync(page.getByRole('button', { name: 'Download stdout' }).waitFor())
  const download = page.waitForEvent('download')
  await page.getByRole('button', { name: 'Download stdout' }).click()
  const d = await download
  t.is(d.suggestedFilename(), 'stdout')
  await shot(page, 'job', { top: true })
  // phone width: nothing wider than the screen
  await page.setViewportSize({ width: 390, height: 800 })
  const wide = await page.evaluate("[...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1 && !e.closest('pre, .table-wrap')).map(e => e.tagName + '.' + e.className).slice(0, 5)")
  t.deepEqual(wide, [], 'nothing reaches past a 390 px screen')
  t.true(await page.evaluate('document.documentElement.scrollWidth <= innerWidth'), 'no horizontal scroll at 390 px')
  await shot(page, 'job-phone', { top: true })
  t.deepEqual(onlyOwnOrigin(requests), [])
  t.deepEqual(errors, [])
})

test.serial('an image-producing module: the identicon is shown inline', async t => {
  t.timeout(180_000)
  const { page, requests, errors } = await openConsole(t)
  await page.getByLabel('Module', { exact: true }).selectOption('identicon:v0.1.0')
  await page.getByLabel('Name').fill('console')
  await page.getByRole('button', { name: 'Run' }).click()
  const img = page.getByRole('img', { name: 'output outputs/identicon.svg' })
  await img.waitFor({ timeout: 150_000 })
  // decoded, not just in the page (a page's own code, as strings: this file is typed for Node, not the DOM)
  await page.waitForFunction("(() => { const i = document.querySelector('figure img'); return i !== null && i.complete && i.naturalWidth > 0 })()")
  t.is(await page.evaluate("document.querySelector('figure img').naturalWidth"), 240)
  await img.scrollIntoViewIfNeeded()
  t.regex((await img.getAttribute('src'))!, /^blob:/)
  await shot(page, 'image')
  t.deepEqual(onlyOwnOrigin(requests), [])
  t.deepEqual(errors, [])
})

test.serial('Jobs page: a queued job is cancelled from the console; the list shows state, cost, provider and deal', async t => {
  t.timeout(120_000)
  // the one running place is held by a job that looks for a provider nobody is
  const blocker = user.node.jobs!.submit({ module: 'cowsay:v0.0.1', inputs: {}, target: NOBODY })
  t.teardown(async () => { await user.node.jobs!.cancel(blocker.id).catch(() => {}) })
  await jobWhen(blocker.id, j => j.state === 'matching')
  const { page, errors } = await openConsole(t)
  await page.getByLabel('Message').fill('never runs')
  await page.getByRole('button', { name: 'Run' }).click()
  await page.waitForURL(/#\/jobs\/job-[0-9a-f]{16}$/)
  const id = page.url().split('/').at(-1)!
  t.is(user.node.jobs!.get(id).state, 'queued')
  await page.locator('#job-state .state-queued').waitFor()
  await page.getByRole('button', { name: `Cancel job ${id}` }).click()
  await page.locator('#job-state .state-cancelled').waitFor({ timeout: 30_000 })
  t.is(user.node.jobs!.get(id).state, 'cancelled')
  t.regex((await page.getByRole('status').first().textContent())!, /nothing/i)
  await page.getByRole('link', { name: 'Jobs', exact: true }).first().click()
  const row = page.locator(`tr[data-job="${id}"]`)
  await row.waitFor()
  t.is(await row.getAttribute('data-state'), 'cancelled')
  // the cow of the earlier test: its cost (the devnet's price), provider and deal
  const done = page.locator('tr[data-state="done"]').first()
  await done.waitFor()
  t.regex((await done.textContent())!, /1 LP/)
  t.true((await done.locator('code.addr').count()) >= 2, 'provider and deal shown')
  await shot(page, 'jobs')
  t.deepEqual(errors, [])
})

test.serial('Network page: the devnet\'s provider with its offers and reputation, chain head and lag, mediators, peers', async t => {
  t.timeout(60_000)
  const { page, errors } = await openConsole(t)
  await page.getByRole('link', { name: 'Network' }).click()
  const row = page.locator(`tr[data-provider="${devnet.provider.chain.address}"]`)
  await row.waitFor({ timeout: 30_000 })
  const text = (await row.textContent())!
  t.regex(text, /1 LP/)
  t.regex(text, /ok/, 'its standing')
  const head = Number(await page.locator('#chain-h + dl dd').nth(1).evaluate(e => e.firstChild?.textContent ?? ''))
  t.true(head > 0)
  t.true((await page.locator('#mediators-h + ul li').count()) >= 1)
  await shot(page, 'network')
  t.deepEqual(errors, [])
})

/**
 * A browser wallet for the page: window.ethereum (EIP-1193) answered by anvil key #6 in this process, as a real
 * wallet's key stays in its extension: the page only sees requests and answers. `asked` lists the methods called.
 */
function testWallet (t: { teardown: (f: () => void) => void }): { key: Wallet, asked: string[], init: (p: Page) => Promise<void> } {
  const rpc = new JsonRpcProvider(devnet.network.rpcUrl, undefined, { staticNetwork: true, pollingInterval: 100 })
  t.teardown(() => { rpc.destroy() })
  const browserKey = new Wallet(devKey(DEVNET_KEYS.user2), rpc)
  const asked: string[] = []
  return {
    key: browserKey,
    asked,
    init: async p => {
      // the wallet's key stays in this process, as a real wallet's stays in its extension: the page only sees requests and answers
      await p.exposeFunction('testWallet', async (method: string, params: unknown[]) => {
        asked.push(method)
        switch (method) {
          case 'eth_requestAccounts': case 'eth_accounts': return [browserKey.address]
          case 'eth_chainId': return `0x${devnet.network.chainId.toString(16)}`
          case 'eth_signTypedData_v4': {
            const td = JSON.parse(params[1] as string) as { domain: Record<string, unknown>, types: Record<string, TypedDataField[]>, message: Record<string, unknown> }
            const { EIP712Domain: _, ...types } = td.types
            return await browserKey.signTypedData(td.domain, types, td.message)
          }
          case 'eth_sendTransaction': {
            const tx = params[0] as { to: string, data: string }
            const sent = await browserKey.sendTransaction({ to: tx.to, data: tx.data })
            await waitForReceipt(rpc, sent.hash)
            return sent.hash
          }
          default: throw new Error(`unsupported method ${method}`)
        }
      })
      await p.addInitScript('window.ethereum = { request: async ({ method, params }) => await window.testWallet(method, params ?? []) }')
    }
  }
}

test.serial('every page fits a phone screen (390 px): nothing reaches past it but scrolling tables and output', async t => {
  const { page, errors } = await openConsole(t, { width: 390 })
  for (const [link, heading] of [['Run', 'Run a module'], ['Jobs', 'Jobs'], ['Network', 'Network devnet'], ['Wallet', 'Wallet']] as const) {
    await page.getByRole('link', { name: link, exact: true }).click()
    await page.getByRole('heading', { name: heading, level: 1 }).waitFor()
    if (link === 'Network') await page.locator('table[aria-label="Providers"]').waitFor()
    const wide = await page.evaluate("[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1 && !e.closest('pre, .table-wrap')).map(e => e.tagName + '.' + e.className).slice(0, 5)")
    t.deepEqual(wide, [], `${link} at 390 px`)
  }
  t.deepEqual(errors, [])
})

test.serial('Wallet: a browser wallet (injected EIP-1193 provider, anvil key) signs the permit and sends the deposit itself', async t => {
  t.timeout(90_000)
  const { key: browserKey, asked, init } = testWallet(t)
  const depositBefore = await user.node.chain.depositOf(browserKey.address)
  const { page, errors } = await openConsole(t, { init })
  await page.getByRole('link', { name: 'Wallet' }).click()
  await page.getByRole('button', { name: 'Connect wallet' }).click()
  await page.locator('#browser-account').waitFor()
  t.is(await page.locator('#browser-account').textContent(), browserKey.address)
  await page.getByLabel('Deposit from this wallet').fill('3')
  await page.getByRole('button', { name: 'Sign and deposit' }).click()
  await page.locator('#browser-status', { hasText: 'deposited 3 LP' }).waitFor({ timeout: 60_000 })
  t.is(await user.node.chain.depositOf(browserKey.address), depositBefore + parseEther('3'))
  t.deepEqual(asked.filter(m => m.startsWith('eth_sign') || m === 'eth_sendTransaction'), ['eth_signTypedData_v4', 'eth_sendTransaction'])
  await shot(page, 'wallet')
  t.deepEqual(errors, [])
})

test.serial('Run signed by the browser wallet: it signs the job offer, the deal and the acceptance of the verified result; the provider settles with it at once', async t => {
  t.timeout(120_000)
  const { key: browserKey, asked, init } = testWallet(t)
  const provider = devnet.provider.chain.address
  const [wallet0, provider0] = await Promise.all([user.node.chain.depositOf(browserKey.address), user.node.chain.depositOf(provider)])
  const { page, errors } = await openConsole(t, { init })
  await page.getByLabel('Message').fill('signed in the browser')
  await page.getByLabel('Sign with my browser wallet', { exact: false }).check()
  await page.getByRole('button', { name: 'Run' }).click()
  await page.waitForURL(/#\/jobs\/job-[0-9a-f]{16}$/)
  const id = page.url().split('/').at(-1)!
  const stdout = page.getByLabel('stdout', { exact: true })
  await stdout.waitFor({ timeout: 90_000 })
  t.true((await stdout.textContent())!.includes('< signed in the browser >'))
  const job = user.node.jobs!.get(id)
  const dealId = job.outcome!.dealId
  const rec = (await user.node.jobCreator!.deals.get(dealId))!
  t.is(rec.deal.jobCreator, browserKey.address, 'the wallet is the deal\'s job creator')
  t.is(rec.deal.resourceProvider, provider)
  t.is(rec.job.value.jobCreator, browserKey.address, 'and the job offer\'s')
  t.is(await page.locator('#job-creator').textContent(), browserKey.address)
  const signs = job.events.filter(e => e.type === 'sign')
  // the job offer as matched (gossiped), the same asking for the slot it is proposed to (protocols/slot-ask.ts: the
  // deal names that one), the deal, the acceptance
  t.deepEqual(signs.map(e => e.data.kind), ['JobOffer', 'JobOffer', 'Deal', 'Accept'])
  t.is(job.events.filter(e => e.type === 'signed').length, 4)
  t.deepEqual(asked.filter(m => m === 'eth_signTypedData_v4' || m === 'eth_sendTransaction'), ['eth_signTypedData_v4', 'eth_signTypedData_v4', 'eth_signTypedData_v4', 'eth_signTypedData_v4'])
  t.like((signs[1].data.typedData as { message: { spec: Record<string, unknown> } }).message.spec, { cpu: String(rec.job.value.spec.cpu), ramMb: String(rec.job.value.spec.ramMb) })
  // the wallet was asked for exactly Accept(this deal, the result the node verified), on this chain's Market
  const acceptAsked = signs[3].data.typedData as { domain: Record<string, unknown>, message: Record<string, unknown> }
  t.deepEqual(acceptAsked.message, { dealId, resultCid: job.outcome!.resultCid })
  t.is(String(acceptAsked.domain.verifyingContract).toLowerCase(), devnet.network.contracts.market.toLowerCase())
  // the provider settled with the wallet's acceptance in its own submission: no transaction from the node, none after the judge window
  const settledBy = job.events.find(e => e.type === 'tx' && e.data.what === 'submitAcceptedResult (provider)')
  t.truthy(settledBy, 'settled by submitAcceptedResult')
  t.false(job.events.some(e => e.type === 'tx' && String(e.data.what).startsWith('accept(')))
  const sent = (await user.node.chain.provider.getTransaction(String(settledBy!.data.hash)))!
  const call = user.node.chain.market.interface.parseTransaction({ data: sent.data })!
  t.is(call.name, 'submitAcceptedResult')
  t.is(recoverSigner('Accept', user.node.chain.domain, { dealId, resultCid: job.outcome!.resultCid }, call.args[2] as string), browserKey.address, 'the acceptance submitted is the wallet\'s signature')
  t.is((await user.node.chain.dealRecord(dealId)).state, 'Settled')
  const [wallet1, provider1] = await Promise.all([user.node.chain.depositOf(browserKey.address), user.node.chain.depositOf(provider)])
  t.is(wallet0 - wallet1, rec.deal.price, 'the wallet\'s deposit paid the price (the mediation fee came back)')
  t.is(provider1 - provider0, rec.deal.price, 'the provider got the price (its collateral came back)')
  t.regex(await page.locator('ol.events').textContent() ?? '', /accepted off chain, settled with the result/)
  await shot(page, 'wallet-job', { top: true })
  t.deepEqual(errors, [])
})

test.serial('job page: the provider\'s live log shows while the container runs, before the result; the provider is picked in the form', async t => {
  t.timeout(120_000)
  // a provider of our own that serves the ticker (the devnet's serves the built-ins only)
  const tickerDir = join(home, 'ticker-modules')
  await writeModules(tickerDir, false)
  const rp = await LilypadNode.create({
    network: devnet.network, networkPath: devnet.networkPath, privateKey: devKey(DEVNET_KEYS.provider2), dataDir: join(home, 'rp-ticker'), roles: ['resource-provider'], local: true,
    components: { logger: { level: 'warn' } },
    provider: { slots: 1, modulesDir: tickerDir, modulePolicy: { modulesDir: tickerDir }, announceIntervalMs: 5000 }
  })
  t.teardown(async () => { await rp.stop() })
  const { page, errors } = await openConsole(t)
  await page.getByLabel('Module', { exact: true }).selectOption(TICKER)
  await page.getByText('Provider, price, audit').click()
  await page.getByLabel('Provider address (optional)').fill(rp.chain.address)
  await page.getByRole('button', { name: 'Run' }).click()
  await page.waitForURL(/#\/jobs\/job-[0-9a-f]{16}$/)
  const id = page.url().split('/').at(-1)!
  const live = page.getByLabel('live log', { exact: true })
  await live.filter({ hasText: 'tick 1' }).waitFor({ timeout: 90_000 })
  // the container sleeps 5 s after its first line: what the page shows now came live, not from the result
  t.false(user.node.jobs!.get(id).events.some(e => e.type === 'phase' && e.data.phase === 'result'), 'the log came before the result')
  t.false(((await live.textContent()) ?? '').includes('tick 2'))
  await shot(page, 'live-log')
  await page.getByLabel('stdout', { exact: true }).waitFor({ timeout: 60_000 })
  t.is(await page.getByLabel('stdout', { exact: true }).textContent(), 'tick 1\ntick 2\n')
  t.is(user.node.jobs!.get(id).outcome?.dealId !== undefined && (await user.node.jobCreator!.deals.get(user.node.jobs!.get(id).outcome!.dealId))?.deal.resourceProvider, rp.chain.address)
  t.deepEqual(errors, [])
})

test.serial('a result the node cannot fetch for a wallet\'s job: the console has the wallet send the challenge, the mediator upholds it, the provider is slashed and the wallet refunded', async t => {
  t.timeout(180_000)
  // the devnet runs no mediator (the other tests need none): the network's mediator, and a provider that submits
  // the CID of nothing (the withheld-result fault), both of the test's own
  const mediator = await LilypadNode.create({
    network: devnet.network, networkPath: devnet.networkPath, privateKey: devKey(DEVNET_KEYS.mediator), dataDir: join(home, 'mediator'), roles: ['mediator'], local: true,
    components: { logger: { level: 'warn' } }, libp2pMetrics: false, mediator: { pullAfterMs: 2000, pullIntervalMs: 1000 }
  })
  t.teardown(async () => { await mediator.stop() })
  // a key no other test's provider used: the user node's book and ban list know nothing of its address (anvil's #8, given LP here)
  const withholderKey = devKey(8)
  const admin = await ChainClient.create({ network: devnet.network, privateKey: devKey(DEVNET_KEYS.admin) })
  const withholder = await ChainClient.create({ network: devnet.network, privateKey: withholderKey })
  t.teardown(async () => { await admin.stop(); await withholder.stop() })
  const token = connectLilypadToken(devnet.network.contracts.token, admin.wallet)
  await admin.queue.send('fund', async () => await token.transfer.populateTransaction(withholder.address, parseEther('20')))
  await withholder.deposit(parseEther('10'))
  const rp = await LilypadNode.create({
    network: devnet.network, networkPath: devnet.networkPath, privateKey: withholderKey, dataDir: join(home, 'rp-withholder'), roles: ['resource-provider'], local: true,
    components: { logger: { level: 'warn' } }, libp2pMetrics: false, provider: { slots: 1, announceIntervalMs: 5000, fault: 'withheld-result' }
  })
  t.teardown(async () => { await rp.stop() })
  const { key: browserKey, asked, init } = testWallet(t)
  const chain = user.node.chain
  const [wallet0, rp0, m0] = await Promise.all([browserKey.address, rp.chain.address, mediator.chain.address].map(async a => await chain.depositOf(a)))
  const { page, errors } = await openConsole(t, { init })
  await page.getByLabel('Message').fill('withheld from the wallet')
  await page.getByText('Provider, price, audit').click()
  await page.getByLabel('Provider address (optional)').fill(rp.chain.address)
  await page.getByLabel('Sign with my browser wallet', { exact: false }).check()
  await page.getByRole('button', { name: 'Run' }).click()
  await page.waitForURL(/#\/jobs\/job-[0-9a-f]{16}$/)
  const id = page.url().split('/').at(-1)!
  const asking = await jobWhen(id, j => j.terminal || j.events.some(e => e.type === 'send'))
  const sendAsked = asking.events.find(e => e.type === 'send')
  if (sendAsked === undefined) { t.fail(`the job ended without asking for the challenge: ${JSON.stringify(asking.error)}`); return }
  const dealId = user.node.jobs!.get(id).dealIds[0]
  const rec = (await user.node.jobCreator!.deals.get(dealId))!
  t.is(rec.deal.resourceProvider, rp.chain.address)
  t.is(rec.deal.jobCreator, browserKey.address)
  // the wallet is asked to send exactly challenge(this deal) to this chain's Market, from itself
  t.is(sendAsked.data.kind, 'Challenge')
  const tx = sendAsked.data.transaction as { from: string, to: string, data: string, chainId: string }
  t.deepEqual({ from: tx.from, to: tx.to, chainId: tx.chainId }, { from: browserKey.address, to: devnet.network.contracts.market, chainId: `0x${devnet.network.chainId.toString(16)}` })
  t.is(chain.market.interface.parseTransaction({ data: tx.data })?.name, 'challenge')
  t.is(tx.data, (await chain.market.challenge.populateTransaction(rec.deal)).data)
  const sent = await jobWhen(id, j => j.events.some(e => e.type === 'sent'))
  t.is(sent.events.find(e => e.type === 'sent')?.data.request, sendAsked.data.request)
  // the mediator re-runs the job: its CID is not the one submitted, so the provider is slashed
  const ended = await jobWhen(id, j => j.terminal)
  t.is((await chain.dealRecord(dealId)).state, 'MediatedWrong')
  t.is(ended.state, 'failed')
  t.true(asked.includes('eth_sendTransaction'))
  t.true(ended.events.some(e => e.type === 'tx' && e.data.what === 'challenge (wallet)'), 'the node saw the wallet\'s challenge mined')
  const [wallet1, rp1, m1] = await Promise.all([browserKey.address, rp.chain.address, mediator.chain.address].map(async a => await chain.depositOf(a)))
  const d = rec.deal
  t.is(wallet1 - wallet0, d.collateral - d.mediationFee, 'the wallet got its price back and the slashed collateral, less the fee')
  t.is(rp1 - rp0, -d.collateral, 'the provider lost its collateral and was not paid')
  t.is(m1 - m0, d.mediationFee, 'the mediator was paid')
  await shot(page, 'wallet-challenge', { top: true })
  t.deepEqual(errors, [])
})

test.serial('the new routes refuse hostile input with named errors; only the console\'s own origin may call from a page', async t => {
  const auth = { authorization: `Bearer ${user.token as string}` }
  const json = { ...auth, 'content-type': 'application/json' }
  const host = new URL(origin).host
  const cases: Array<[string, string, { headers?: Record<string, string>, body?: string }, number, string]> = [
    ['GET', '/v1/modules', {}, 401, 'UnauthorizedError'],
    ['GET', '/v1/module', { headers: auth }, 400, 'ValidationError'],
    ['GET', '/v1/module?ref=./no/such/module', { headers: auth }, 404, 'ModuleNotFoundError'],
    ['GET', '/v1/module?ref=bad%20name!:v1', { headers: auth }, 400, 'ModuleRefError'],
    ['GET', '/v1/module?ref=cowsay', { headers: auth }, 400, 'ModuleRefError'],
    ['GET', '/v1/module?ref=x&y=1', { headers: auth }, 400, 'ValidationError'],
    ['GET', '/v1/balance?address=0x12', { headers: auth }, 400, 'ValidationError'],
    ['POST', '/v1/wallet/permit', { headers: json, body: '{"owner":"0x12","amount":"1"}' }, 400, 'ValidationError'],
    ['POST', '/v1/wallet/permit', { headers: json, body: `{"owner":"${NOBODY}","amount":"0"}` }, 400, 'BadAmountError'],
    ['POST', '/v1/wallet/permit', { headers: json, body: `{"owner":"${NOBODY}","amount":"1"}` }, 409, 'InsufficientBalanceError'],
    ['POST', '/v1/wallet/deposit-tx', { headers: json, body: `{"owner":"${NOBODY}","amount":"1","deadline":"1","signature":"0x${'00'.repeat(65)}"}` }, 400, 'PermitSignatureError'],
    ['POST', '/v1/wallet/deposit-tx', { headers: json, body: `{"owner":"${NOBODY}","amount":"1","deadline":"1","signature":"0x${'11'.repeat(64)}1b"}` }, 400, 'PermitSignatureError'],
    ['POST', '/v1/jobs', { headers: json, body: '{"module":"cowsay:v0.0.1","wallet":"me"}' }, 400, 'ValidationError'],
    ['POST', '/v1/jobs/job-0123456789abcdef/signatures', { headers: json, body: `{"request":"0123456789abcdef","signature":"0x${'11'.repeat(65)}"}` }, 404, 'JobNotFoundError'],
    ['POST', '/v1/jobs/job-0123456789abcdef/signatures', { headers: json, body: '{"request":"x","signature":"0x"}' }, 400, 'ValidationError'],
    ['POST', '/v1/jobs/job-0123456789abcdef/transactions', { headers: json, body: `{"request":"0123456789abcdef","hash":"0x${'11'.repeat(32)}"}` }, 404, 'JobNotFoundError'],
    ['POST', '/v1/jobs/job-0123456789abcdef/transactions', { headers: json, body: '{"request":"0123456789abcdef","hash":"0x12"}' }, 400, 'ValidationError'],
    ['POST', '/v1/jobs/job-0123456789abcdef/transactions', { headers: { ...json, origin: 'http://evil.example' }, body: `{"request":"0123456789abcdef","hash":"0x${'11'.repeat(32)}"}` }, 403, 'BrowserOriginError'],
    ['POST', '/v1/jobs/job-0123456789abcdef/signatures', { headers: { ...json, origin: 'http://evil.example' }, body: `{"request":"0123456789abcdef","signature":"0x${'11'.repeat(65)}"}` }, 403, 'BrowserOriginError'],
    ['GET', '/v1/network', { headers: { ...auth, origin: 'http://evil.example' } }, 403, 'BrowserOriginError'],
    ['GET', '/v1/network', { headers: { ...auth, origin: `http://${host}.evil.example` } }, 403, 'BrowserOriginError'],
    ['GET', '/v1/network', { headers: { ...auth, origin: 'null' } }, 403, 'BrowserOriginError']
  ]
  for (const [method, path, opts, status, name] of cases) {
    const r = await raw(method, path, opts)
    t.is(r.status, status, `${method} ${path}: ${r.body}`)
    t.is((JSON.parse(r.body) as { error: { name: string } }).error.name, name, `${method} ${path}`)
  }
  // a job whose wallet never answers: another key's signature is refused by name, an unknown request too, and a
  // cancel ends the wait at once (nothing was spent)
  const submitted = await raw('POST', '/v1/jobs', { headers: json, body: JSON.stringify({ module: 'cowsay:v0.0.1', wallet: NOBODY }) })
  t.is(submitted.status, 201, submitted.body)
  const jid = (JSON.parse(submitted.body) as { id: string }).id
  const asked = (await jobWhen(jid, j => j.events.some(e => e.type === 'sign'))).events.find(e => e.type === 'sign')!
  t.is(asked.data.kind, 'JobOffer')
  const td = asked.data.typedData as { domain: Record<string, unknown>, types: Record<string, TypedDataField[]>, message: Record<string, unknown> }
  const { EIP712Domain: _, ...types } = td.types
  const wrong = await new Wallet(devKey(DEVNET_KEYS.user2)).signTypedData(td.domain, types, td.message)
  for (const [request, status, name] of [[String(asked.data.request), 400, 'SignatureMismatchError'], ['00000000deadbeef', 404, 'SignatureRequestNotFoundError']] as const) {
    const r = await raw('POST', `/v1/jobs/${jid}/signatures`, { headers: json, body: JSON.stringify({ request, signature: wrong }) })
    t.is(r.status, status, r.body)
    t.is((JSON.parse(r.body) as { error: { name: string } }).error.name, name)
  }
  // a transaction hash is no answer to a signature request
  const hashAnswer = await raw('POST', `/v1/jobs/${jid}/transactions`, { headers: json, body: JSON.stringify({ request: String(asked.data.request), hash: '0x' + '11'.repeat(32) }) })
  t.is(hashAnswer.status, 404, hashAnswer.body)
  t.is((JSON.parse(hashAnswer.body) as { error: { name: string } }).error.name, 'SignatureRequestNotFoundError')
  const cancelled = JSON.parse((await raw('POST', `/v1/jobs/${jid}/cancel`, { headers: auth })).body) as { state: string, money: string }
  t.is(cancelled.state, 'cancelled')
  t.regex(cancelled.money, /nothing was spent/)
  const same = await raw('GET', '/v1/network', { headers: { ...auth, origin: `http://${host}` } })
  t.is(same.status, 200, 'the console\'s own origin')
  t.is(same.headers['access-control-allow-origin'], undefined)
  const modules = JSON.parse((await raw('GET', '/v1/modules', { headers: auth })).body) as { modules: Array<{ ref: string, inputs: Array<{ name: string, required: boolean, default?: string }> }> }
  t.deepEqual(modules.modules.find(m => m.ref === 'cowsay:v0.0.1')?.inputs, [{ name: 'Message', required: false, default: 'hello, lilypad' }])
})

test.serial('lilypad devnet --ui and lilypad node --ui print the console\'s address, and it serves the console and the API with that token', async t => {
  t.timeout(180_000)
  const cliHome = await mkdtemp(join(tmpdir(), 'lilypad-console-cli-'))
  t.teardown(async () => { await rm(cliHome, { recursive: true, force: true }) })
  const start = (args: string[], env: Record<string, string> = {}): { log: LineLog, stop: () => Promise<string> } => {
    const child = spawn(process.execPath, ['cli/bin.ts', ...args], { env: { ...process.env, LILYPAD_HOME: cliHome, WEB3_PRIVATE_KEY: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
    const log = new LineLog(child.stdout, child.stderr)
    // 'exit 0', or how it ended and what it printed last: a process that died of a signal (exit null) says which
    const stop = async (): Promise<string> => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      const [code, signal] = await exited
      return code === 0 ? 'exit 0' : `exit ${code} signal ${signal}; its last lines:\n${log.lines.slice(-30).join('\n')}`
    }
    t.teardown(async () => { await stop() })
    return { log, stop }
  }
  const check = async (line: string): Promise<void> => {
    const url = new URL(/http:\/\/\S+/.exec(line)![0])
    const ui = await fetch(new URL('/ui/', url))
    t.is(ui.status, 200)
    t.is(ui.headers.get('content-security-policy'), CONSOLE_CSP)
    const me = await fetch(new URL('/v1/node', url), { headers: { authorization: `Bearer ${url.hash.replace('#token=', '')}` } })
    t.is(me.status, 200)
  }
  const devnetCli = start(['devnet', '--ui', '--port', '0', '--no-bridge', '--no-mediator'])
  await check(await devnetCli.log.waitFor(/^ {2}console {8}http:\/\/127\.0\.0\.1:\d+\/ui\/#token=[0-9a-f]{64} /, 120_000))
  const nodeCli = start(['node', '--roles', 'none', '--ui'], { WEB3_PRIVATE_KEY: devKey(DEVNET_KEYS.user2) })
  await check(await nodeCli.log.waitFor(/^ {2}console http:\/\/127\.0\.0\.1:\d+\/ui\/#token=[0-9a-f]{64}$/, 60_000))
  t.is(await nodeCli.stop(), 'exit 0')
  // a SIGTERM the moment the banner is out stops the node cleanly: the handler is there before anything starts
  // (registered after the banner, it was not yet there and the process died of the signal, exit null)
  const prompt = start(['node', '--roles', 'none'], { WEB3_PRIVATE_KEY: devKey(DEVNET_KEYS.user2) })
  await prompt.log.waitFor(/^Ctrl-C stops it\.$/, 60_000)
  t.is(await prompt.stop(), 'exit 0')
  t.is(await devnetCli.stop(), 'exit 0')
})

/** A raw request, so the Host and Origin headers are what the test says. */
async function raw (method: string, path: string, opts: { headers?: Record<string, string>, body?: string } = {}): Promise<{ status: number, headers: Record<string, unknown>, body: string }> {
  const url = new URL(origin)
  return await new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers: opts.headers ?? {} }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body }) })
    })
    req.on('error', reject)
    req.end(opts.body)
  })
}
