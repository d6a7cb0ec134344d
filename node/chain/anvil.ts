// A local anvil chain for tests and `lilypad devnet`: spawns the binary shipped by @foundry-rs/anvil-linux-amd64
// and resolves once it listens. The caller must call stop() (tests: t.teardown).
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { HDNodeWallet, Mnemonic } from 'ethers'
import { DEV_MNEMONIC, WELL_KNOWN_DEV_KEYS } from './dev-keys.ts'

export { DEV_MNEMONIC }

export class AnvilStartError extends Error {
  static override name = 'AnvilStartError'
  override name = 'AnvilStartError'
}

export interface AnvilOptions {
  chainId?: number
  /** Listen on this port; 0 (default) lets the OS pick a free one. */
  port?: number
  /** Try 8545 first and fall back to a free port if it is taken (for `lilypad devnet`). */
  preferDefaultPort?: boolean
  accounts?: number
  /** Seconds between blocks; absent = mine each transaction at once. */
  blockTime?: number
  startTimeoutMs?: number
  /**
   * Past states anvil keeps on disk beyond those in memory (default 256): what `eth_call` at an old block needs.
   * Unbounded, a devnet's anvil wrote ~1.4 GB an hour under the soak's load.
   */
  maxPersistedStates?: number
}

export interface Anvil {
  rpcUrl: string
  port: number
  chainId: number
  /** Private keys of the funded dev accounts, derived from DEV_MNEMONIC. */
  keys: string[]
  /** the anvil process (the soak benchmark pauses it with SIGSTOP to play an RPC outage, and reads its memory) */
  pid: number
  /** where anvil keeps the past states it moves out of memory: its own directory, removed once it exits */
  stateDir: string
  stop: () => Promise<void>
}

export function anvilBinary (): string {
  const require = createRequire(import.meta.url)
  return join(dirname(require.resolve('@foundry-rs/anvil-linux-amd64/package.json')), 'bin', 'anvil')
}

const keyCache = new Map<number, string>()
/** The i-th dev key (BIP-44 path m/44'/60'/0'/0/i): the well-known table, else derived once and cached. */
export function devKey (i: number): string {
  let k = WELL_KNOWN_DEV_KEYS[i] ?? keyCache.get(i)
  if (k === undefined) {
    k = HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(DEV_MNEMONIC), `m/44'/60'/0'/0/${i}`).privateKey
    keyCache.set(i, k)
  }
  return k
}

export async function startAnvil (opts: AnvilOptions = {}): Promise<Anvil> {
  if (opts.preferDefaultPort === true && opts.port === undefined) {
    try {
      return await launch({ ...opts, port: 8545 })
    } catch (err) {
      if ((err as Error).name !== AnvilStartError.name) throw err
    }
  }
  return await launch(opts)
}

async function launch (opts: AnvilOptions): Promise<Anvil> {
  const chainId = opts.chainId ?? 31337
  const accounts = opts.accounts ?? 10
  const args = ['--port', String(opts.port ?? 0), '--host', '127.0.0.1', '--chain-id', String(chainId),
    '--accounts', String(accounts), '--mnemonic', DEV_MNEMONIC]
  if (opts.blockTime !== undefined) args.push('--block-time', String(opts.blockTime))
  // anvil's past states go to a directory of this instance's own, removed when it stops: anvil's default
  // (~/.foundry/anvil/tmp) outlives every anvil that is killed, and 126 of them once filled this machine's disk
  const cache = mkdtempSync(join(tmpdir(), 'lilypad-anvil-'))
  args.push('--cache-path', cache, '--max-persisted-states', String(opts.maxPersistedStates ?? 256))
  const removeCache = (): void => { rmSync(cache, { recursive: true, force: true }) }
  const child = spawn(anvilBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] })
  child.once('exit', removeCache)
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => fail(new AnvilStartError(`anvil did not start within ${opts.startTimeoutMs ?? 15000} ms`)), opts.startTimeoutMs ?? 15000)
    const fail = (err: Error): void => { clearTimeout(timer); child.kill('SIGKILL'); reject(err) }
    const onData = (chunk: Buffer): void => {
      out += chunk.toString()
      const m = /Listening on 127\.0\.0\.1:(\d+)/.exec(out)
      if (m != null) {
        clearTimeout(timer)
        child.stdout?.off('data', onData)
        child.stdout?.resume() // keep draining so anvil never blocks on a full pipe
        resolve(Number(m[1]))
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', (c: Buffer) => { out += c.toString() })
    child.once('error', err => fail(new AnvilStartError(`cannot run anvil: ${err.message}`)))
    child.once('exit', code => fail(new AnvilStartError(`anvil exited with ${String(code)} before listening: ${out.slice(-500)}`)))
  })
  child.stderr?.resume()
  const keys = Array.from({ length: accounts }, (_, i) => devKey(i))
  return { rpcUrl: `http://127.0.0.1:${port}`, port, chainId, keys, pid: child.pid ?? 0, stateDir: cache, stop: async () => { if (child.signalCode === null) child.kill('SIGCONT'); await stop(child) } }
}

async function stop (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
  await exited
  clearTimeout(timer)
}
