// A resource-provider node as an operator starts it (`lilypad resource-provider` against the devnet): time from
// spawning the process to its ready line (host listening, gossip joined, chain client up, Docker checked,
// offers announced), and its resident memory after a stretch of idling on the mesh.
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { once } from 'node:events'
import type { Devnet } from '../node/devnet.ts'
import { devKey } from '../node/chain/index.ts'
import { DEVNET_KEYS } from '../node/devnet.ts'
import { median, round } from './stats.ts'

const CLI = fileURLToPath(new URL('../cli/bin.ts', import.meta.url))

export interface NodeBenchResult { readyMs: number, idleRssMb: number, runs: number }

async function rssMb (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1])
  return kb / 1024
}

async function once_ (devnet: Devnet, home: string, idleMs: number): Promise<{ readyMs: number, rssMb: number }> {
  const t0 = performance.now()
  const child = spawn(process.execPath, [CLI, 'resource-provider', '--network', devnet.networkPath, '--data-dir', join(home, `bench-node-${Date.now()}`)], {
    env: { ...process.env, LILYPAD_HOME: home, WEB3_PRIVATE_KEY: devKey(DEVNET_KEYS.provider2) },
    stdio: ['ignore', 'ignore', 'pipe']
  })
  try {
    let err = ''
    const ready = new Promise<number>((resolve, reject) => {
      child.stderr.on('data', (b: Buffer) => {
        err += b.toString()
        if (err.includes('Ctrl-C stops it.')) resolve(performance.now() - t0)
      })
      child.once('exit', code => { reject(new Error(`node exited with ${code} before it was ready:\n${err}`)) })
    })
    const readyMs = await ready
    await new Promise(resolve => setTimeout(resolve, idleMs)) // idling is what is measured here
    return { readyMs, rssMb: await rssMb(child.pid as number) }
  } finally {
    if (child.exitCode === null) {
      child.kill('SIGINT')
      await once(child, 'exit')
    }
  }
}

export async function benchNode (devnet: Devnet, home: string, opts: { runs?: number, idleMs?: number } = {}): Promise<NodeBenchResult> {
  const runs = opts.runs ?? 3
  const results = []
  for (let i = 0; i < runs; i++) results.push(await once_(devnet, home, opts.idleMs ?? 10_000))
  return { readyMs: round(median(results.map(r => r.readyMs))), idleRssMb: round(median(results.map(r => r.rssMb))), runs }
}
