// Multi-host test networks in Linux network namespaces (root only). A NetnsLab owns everything it makes —
// namespaces, the veth pairs and nftables rules inside them, /etc/netns/<ns> files, processes started in
// them — and `destroy()` removes all of it, also when a test failed or the process is interrupted.
// Interfaces are created directly inside the namespaces (`ip -n A link add … peer … netns B`), so nothing
// ever appears on, or routes through, the host's own interfaces. Names carry the pid and a counter, so
// parallel runs never collide.
//
// The "internet" is a bridge in its own namespace. Its addresses come from a range libp2p treats as public
// (every reserved and documentation range is on its private list, and AutoNAT and DCUtR ignore private
// addresses); the namespaces have no link to the host or beyond, so these addresses never leave them.
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { mkdir, rm, rmdir, writeFile } from 'node:fs/promises'
import { existsSync, rmSync, rmdirSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { promisify } from 'node:util'

const run = promisify(execFile)

// Absolute paths: `npx` puts node_modules/.bin first on PATH, and an npm package there is called `nft`.
const IP = '/usr/sbin/ip'
const NFT = '/usr/sbin/nft'
const SYSCTL = '/usr/sbin/sysctl'

/** The /24 the lab's "internet" uses (see above). */
export const INTERNET = '11.66.0'

let labs = 0
const live = new Set<NetnsLab>()
/** /etc/netns did not exist before a lab made it: the last lab to go removes it again when empty */
let madeEtcNetns = false
let exitHooked = false

function hookExit (): void {
  if (exitHooked) return
  exitHooked = true
  // synchronous last resort: a test runner killed by a signal still removes what its labs made
  const sweep = (): void => { for (const lab of live) lab.destroySync() }
  process.once('exit', sweep)
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => { sweep(); process.exit(130) })
}

export class NetnsUnavailableError extends Error {
  static override name = 'NetnsUnavailableError'
  override name = NetnsUnavailableError.name
}

/** Whether this process may create network namespaces (root with `ip` and `nft`). */
export function netnsAvailable (): boolean {
  return process.getuid?.() === 0 && existsSync(IP) && existsSync(NFT) && existsSync(SYSCTL)
}

export class NetnsLab {
  readonly prefix: string
  private readonly namespaces: string[] = []
  private readonly processes = new Set<ChildProcess>()
  private destroyed = false

  private constructor (prefix: string) { this.prefix = prefix }

  static async create (): Promise<NetnsLab> {
    if (!netnsAvailable()) throw new NetnsUnavailableError('network namespace tests need root, iproute2 and nftables (run scripts/setup-machine.sh as root)')
    const lab = new NetnsLab(`lp${process.pid}x${++labs}`)
    live.add(lab)
    hookExit()
    return lab
  }

  /** The full name of a namespace of this lab. */
  ns (name: string): string { return `${this.prefix}-${name}` }

  async ip (...args: string[]): Promise<void> { await run(IP, args) }

  private async addNamespace (name: string): Promise<string> {
    const ns = this.ns(name)
    await this.ip('netns', 'add', ns)
    this.namespaces.push(ns)
    await this.ip('-n', ns, 'link', 'set', 'lo', 'up')
    return ns
  }

  /** The "internet": a bridge at `${INTERNET}.1/24` in its own namespace. */
  async internet (): Promise<string> {
    const ns = await this.addNamespace('inet')
    await this.ip('-n', ns, 'link', 'add', 'br0', 'type', 'bridge')
    await this.ip('-n', ns, 'addr', 'add', `${INTERNET}.1/24`, 'dev', 'br0')
    await this.ip('-n', ns, 'link', 'set', 'br0', 'up')
    return ns
  }

  /** A host on the internet at `${INTERNET}.<n>` (eth0), plus any extra addresses on the same link. */
  async publicHost (name: string, n: number, extra: number[] = []): Promise<string> {
    const ns = await this.addNamespace(name)
    const inet = this.ns('inet')
    await this.ip('-n', inet, 'link', 'add', `v-${name}`.slice(0, 15), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
    await this.ip('-n', inet, 'link', 'set', `v-${name}`.slice(0, 15), 'master', 'br0', 'up')
    for (const a of [n, ...extra]) await this.ip('-n', ns, 'addr', 'add', `${INTERNET}.${a}/24`, 'dev', 'eth0')
    await this.ip('-n', ns, 'link', 'set', 'eth0', 'up')
    return ns
  }

  /** Adds an address (e.g. IPv6 `2001:db8:66::3/48`) to a lab host's eth0; no duplicate detection, usable at once. */
  async addAddress (ns: string, cidr: string): Promise<void> {
    this.assertOwn(ns)
    await this.ip('-n', ns, 'addr', 'add', cidr, 'dev', 'eth0', ...(cidr.includes(':') ? ['nodad'] : []))
  }

  /**
   * A host behind a NAT router: the router is on the internet at `${INTERNET}.<n>` and masquerades the LAN
   * 10.<n>.0.0/24, where the host is 10.<n>.0.2. The router forwards only what the LAN started (conntrack),
   * like a home router; its table is `lilypad_nat` in the router's own namespace.
   */
  async natHost (name: string, n: number): Promise<{ host: string, router: string, lanIp: string }> {
    const router = await this.publicHost(`${name}-nat`, n)
    const host = await this.addNamespace(name)
    const lan = `10.${n}.0`
    await this.ip('-n', router, 'link', 'add', 'lan', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host)
    await this.ip('-n', router, 'addr', 'add', `${lan}.1/24`, 'dev', 'lan')
    await this.ip('-n', router, 'link', 'set', 'lan', 'up')
    await this.ip('-n', host, 'addr', 'add', `${lan}.2/24`, 'dev', 'eth0')
    await this.ip('-n', host, 'link', 'set', 'eth0', 'up')
    await this.ip('-n', host, 'route', 'add', 'default', 'via', `${lan}.1`)
    await run(IP, ['netns', 'exec', router, SYSCTL, '-qw', 'net.ipv4.ip_forward=1'])
    await this.nft(router, `table ip lilypad_nat {
  chain postrouting { type nat hook postrouting priority srcnat; oifname "eth0" masquerade; }
  chain forward { type filter hook forward priority filter; policy drop; ct state established,related accept; iifname "lan" accept; }
}`)
    return { host, router, lanIp: `${lan}.2` }
  }

  /** Loads an nftables ruleset into a namespace of this lab (its tables die with the namespace). */
  async nft (ns: string, ruleset: string): Promise<void> {
    this.assertOwn(ns)
    const child = spawn(IP, ['netns', 'exec', ns, NFT, '-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] })
    let err = ''
    child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
    child.stdin?.end(ruleset)
    const [code] = await once(child, 'exit') as [number]
    if (code !== 0) throw new Error(`nft in ${ns} failed: ${err}`)
  }

  /** Writes /etc/netns/<ns>/<file> (bind-mounted over /etc/<file> for processes started in the namespace). */
  async netnsFile (ns: string, file: 'resolv.conf' | 'hosts', content: string): Promise<void> {
    this.assertOwn(ns)
    if (!existsSync('/etc/netns')) madeEtcNetns = true
    await mkdir(`/etc/netns/${ns}`, { recursive: true })
    await writeFile(`/etc/netns/${ns}/${file}`, content)
  }

  /** Starts a process inside a namespace; it is killed (with its namespace's other processes) on destroy. */
  spawn (ns: string, command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    this.assertOwn(ns)
    const child = spawn(IP, ['netns', 'exec', ns, command, ...args], options)
    this.processes.add(child)
    child.once('exit', () => { this.processes.delete(child) })
    return child
  }

  private assertOwn (ns: string): void {
    if (!this.namespaces.includes(ns)) throw new Error(`${ns} is not a namespace of this lab`)
  }

  /** Kills what runs in the lab's namespaces, deletes them (their veths and rules go with them) and their /etc/netns files. */
  async destroy (): Promise<void> {
    if (this.destroyed) return
    this.destroyed = true
    live.delete(this)
    const exits = [...this.processes].map(async p => { if (p.exitCode === null && p.signalCode === null) { p.kill('SIGKILL'); await once(p, 'exit').catch(() => {}) } })
    await Promise.all(exits)
    for (const ns of [...this.namespaces].reverse()) {
      await this.killInside(ns)
      await run(IP, ['netns', 'del', ns]).catch(() => {})
      await rm(`/etc/netns/${ns}`, { recursive: true, force: true })
    }
    this.namespaces.length = 0
    if (madeEtcNetns && live.size === 0) await rmdir('/etc/netns').then(() => { madeEtcNetns = false }, () => {})
  }

  /** Processes left in a namespace of ours (grandchildren of what we spawned) */
  private async killInside (ns: string): Promise<void> {
    const { stdout } = await run(IP, ['netns', 'pids', ns]).catch(() => ({ stdout: '' }))
    for (const pid of stdout.split(/\s+/).filter(Boolean).map(Number)) {
      try { process.kill(pid, 'SIGKILL') } catch {} // exited meanwhile
    }
  }

  destroySync (): void {
    if (this.destroyed) return
    this.destroyed = true
    // best effort on the way out: whatever is already gone stays gone
    for (const p of this.processes) { try { p.kill('SIGKILL') } catch {} }
    for (const ns of [...this.namespaces].reverse()) {
      try {
        const pids = execFileSync(IP, ['netns', 'pids', ns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean).map(Number)
        for (const pid of pids) { try { process.kill(pid, 'SIGKILL') } catch {} }
      } catch {}
      try { execFileSync(IP, ['netns', 'del', ns]) } catch {}
      rmSync(`/etc/netns/${ns}`, { recursive: true, force: true })
    }
    live.delete(this)
    if (madeEtcNetns && live.size === 0) { try { rmdirSync('/etc/netns') } catch {} }
  }

  /** Namespaces of this lab that still exist (for tests of the teardown itself). */
  static async existing (prefix: string): Promise<string[]> {
    const { stdout } = await run(IP, ['netns', 'list'])
    return stdout.split('\n').map(l => l.split(' ')[0]).filter(n => n.startsWith(`${prefix}-`))
  }
}

/** Lilypad hosts in a namespace, driven over IPC (node/testing/netns-child.ts). */
export class NamespaceHosts {
  private readonly child: ChildProcess
  private next = 1
  private readonly waiting = new Map<number, { resolve: (r: Record<string, unknown>) => void, reject: (e: Error) => void }>()
  private readonly ready: Promise<void>

  constructor (lab: NetnsLab, ns: string) {
    this.child = lab.spawn(ns, process.execPath, [new URL('./netns-child.ts', import.meta.url).pathname], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.ready = new Promise((resolve, reject) => {
      this.child.once('exit', code => {
        const err = new Error(`the host process in ${ns} exited (${code})`)
        reject(err)
        for (const w of this.waiting.values()) w.reject(err)
      })
      this.child.on('message', (m: { id: number, ok: boolean, error?: string }) => {
        if (m.id === 0) { resolve(); return }
        const w = this.waiting.get(m.id)
        this.waiting.delete(m.id)
        if (m.ok) w?.resolve(m as Record<string, unknown>)
        else w?.reject(new Error(m.error))
      })
    })
    this.ready.catch(() => {})
  }

  async call<T = Record<string, unknown>> (command: import('./netns-child.ts').ChildCommand): Promise<T> {
    await this.ready
    const id = this.next++
    return await new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: r => { resolve(r as T) }, reject })
      this.child.send({ ...command, id })
    })
  }
}
