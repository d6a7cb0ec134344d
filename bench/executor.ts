// Benchmark (not a test): run with `npx node bench/executor.ts [runs]`.
//   cowsayOverheadMs  cowsay container create → exit → result CID (median; image already built)
//   fetch10MbMs       a 10 MB result fetched between two local Helia nodes over bitswap, verified (median)
// Targets: ≤ 400 ms and ≤ 1 s.
import { randomBytes } from 'node:crypto'
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Docker from 'dockerode'
import { Executor } from '../node/executor/index.ts'
import { loadModule } from '../node/modules/index.ts'
import { pinSpecImage } from '../node/modules/images.ts'
import { ResultStore } from '../node/result-store/index.ts'

export interface ExecutorBenchResult {
  cowsayOverheadMs: number
  fetch10MbMs: number
  cowsayRunsMs: number[]
  fetchRunsMs: number[]
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

export async function benchExecutor (opts: { runs?: number, fetchRuns?: number } = {}): Promise<ExecutorBenchResult> {
  const runs = opts.runs ?? 9
  const fetchRuns = opts.fetchRuns ?? 5
  const root = await mkdtemp(join(tmpdir(), 'lilypad-bench-'))
  const docker = new Docker()
  const executor = new Executor({ docker })
  const a = await ResultStore.create({ dataDir: join(root, 'a') })
  const b = await ResultStore.create({ dataDir: join(root, 'b') })
  try {
    const spec = await pinSpecImage(docker, (await loadModule('cowsay:v0.0.1', { Message: 'moo' })).spec)
    // Warm-up: engine connection, first container, JIT.
    await a.addDirectory((await executor.run(spec, { resultDir: join(root, 'warm') })).resultDir)
    const cowsayRunsMs: number[] = []
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now()
      const r = await executor.run(spec, { resultDir: join(root, `cow-${i}`) })
      await a.addDirectory(r.resultDir)
      cowsayRunsMs.push(performance.now() - t0)
      await a.settled()
    }
    const from = a.multiaddrs()[0].toString()
    // Warm the connection between the nodes, as a job creator talking to its provider would have.
    const warm = join(root, 'warm-fetch')
    await mkdir(warm)
    await writeFile(join(warm, 'stdout'), 'warm')
    await b.fetch(await a.addDirectory(warm), { from, timeoutMs: 10_000 })
    const fetchRunsMs: number[] = []
    for (let i = 0; i < fetchRuns; i++) {
      const dir = join(root, `big-${i}`)
      await mkdir(join(dir, 'outputs'), { recursive: true })
      await writeFile(join(dir, 'stdout'), '')
      await writeFile(join(dir, 'stderr'), '')
      await writeFile(join(dir, 'exitCode'), '0')
      await writeFile(join(dir, 'outputs', 'data.bin'), randomBytes(10 * 1024 * 1024))
      const cid = await a.addDirectory(dir)
      // The provider has finished publishing (pinned) before it announces the CID; the fetcher's own
      // background pin of the previous run is done too, so runs do not overlap.
      await a.settled()
      await b.settled()
      const t0 = performance.now()
      await b.fetch(cid, { from, timeoutMs: 30_000 })
      fetchRunsMs.push(performance.now() - t0)
    }
    return { cowsayOverheadMs: median(cowsayRunsMs), fetch10MbMs: median(fetchRunsMs), cowsayRunsMs, fetchRunsMs }
  } finally {
    await a.stop()
    await b.stop()
    await rm(root, { recursive: true, force: true })
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const runs = process.argv[2] !== undefined ? Number(process.argv[2]) : undefined
  const r = await benchExecutor({ runs })
  const round = (x: number): number => Math.round(x)
  console.log(JSON.stringify({
    cowsayOverheadMs: round(r.cowsayOverheadMs),
    fetch10MbMs: round(r.fetch10MbMs),
    cowsayRunsMs: r.cowsayRunsMs.map(round),
    fetchRunsMs: r.fetchRunsMs.map(round),
    targets: { cowsayOverheadMs: 400, fetch10MbMs: 1000 }
  }, null, 2))
  process.exit(0)
}
