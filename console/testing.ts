// What the console's browser tests share: Debian's Chromium driven by playwright-core, and a page on a node's
// console that records every request it makes and every script error.
import { chromium, type Browser, type Page } from 'playwright-core'

const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_ARGS = ['--no-sandbox', '--headless=new', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage']

export async function launchChromium (): Promise<Browser> {
  return await chromium.launch({ executablePath: CHROMIUM, headless: false, args: CHROMIUM_ARGS })
}

/** A page on the console at `consoleUrl` (the node's, with its token), once its navigation shows. */
export async function openConsole (browser: Browser, consoleUrl: string, t: { teardown: (f: () => Promise<void>) => void }, opts: { width?: number, init?: (p: Page) => Promise<void> } = {}): Promise<{ page: Page, requests: string[], errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: opts.width ?? 1000, height: 820 }, acceptDownloads: true })
  t.teardown(async () => { await context.close() })
  const page = await context.newPage()
  const requests: string[] = []
  const errors: string[] = []
  page.on('request', r => { requests.push(r.url()) })
  page.on('pageerror', e => { errors.push(e.message) })
  await opts.init?.(page)
  await page.goto(consoleUrl)
  await page.getByRole('navigation', { name: 'Pages' }).waitFor({ timeout: 30_000 })
  return { page, requests, errors }
}
