// tuneNodeProcess: a small buffer kept among short-lived ones no longer keeps a whole pool slab alive (issue 20:
// a node keeps a few small buffers per peer it ever met). Measured in child processes, in bytes, not in time.
import test from 'ava'
import { execFileSync, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const RUNTIME = fileURLToPath(new URL('./runtime.ts', import.meta.url))

/** ArrayBuffer bytes still held after keeping one 32-byte buffer in every 4 KiB of small allocations, 2,000 times. */
function heldBytes (tuned: boolean): number {
  const script = `
    const { tuneNodeProcess } = await import(${JSON.stringify(RUNTIME)})
    if (${tuned}) tuneNodeProcess()
    const kept = []
    const before = (globalThis.gc(), process.memoryUsage().arrayBuffers)
    for (let i = 0; i < 2000; i++) {
      kept.push(Buffer.allocUnsafe(32))
      for (let j = 0; j < 64; j++) Buffer.allocUnsafe(64)
    }
    globalThis.gc()
    console.log(process.memoryUsage().arrayBuffers - before, kept.length)`
  const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' })
  return Number(out.trim().split(' ')[0])
}

test('a node process keeps small buffers unpooled: 2,000 kept 32-byte buffers hold tens of KB, not megabytes of slabs', t => {
  const pooled = heldBytes(false)
  const tuned = heldBytes(true)
  t.log(`held: pooled ${pooled} bytes, tuned ${tuned} bytes`)
  t.true(pooled > 2_000_000, `Node's pool kept ${pooled} bytes of slabs alive`)
  t.true(tuned < 200_000, `unpooled, the kept buffers hold ${tuned} bytes`)
})

test('the CLI and the soak\'s child processes tune themselves before they start a node', t => {
  // each entry point runs for real, with a preload that reports Buffer.poolSize as the process exits
  const preload = `data:text/javascript,${encodeURIComponent("process.on('exit', () => { process.stderr.write('\\npoolSize=' + Buffer.poolSize + '\\n') })")}`
  const runs: Array<[string, string[]]> = [
    ['../cli/bin.ts', ['version']],
    // an empty configuration: the child tunes itself first, then fails to read its network file and exits
    ['../bench/soak-child.ts', ['{}']]
  ]
  for (const [entry, args] of runs) {
    const r = spawnSync(process.execPath, ['--import', preload, fileURLToPath(new URL(entry, import.meta.url)), ...args], { encoding: 'utf8', timeout: 60_000 })
    t.regex(r.stderr, /^poolSize=0$/m, `${entry}: ${r.stderr.slice(-400)}`)
  }
  // and the preload reads what it should: an untuned process reports Node's default
  const plain = spawnSync(process.execPath, ['--import', preload, '-e', ''], { encoding: 'utf8' })
  t.regex(plain.stderr, /^poolSize=65536$/m, plain.stderr)
})

test('a node process reports a promise rejection nobody handled, counts it, and goes on', t => {
  const components = fileURLToPath(new URL('./components.ts', import.meta.url))
  const script = `
    const { reportUnhandledRejections } = await import(${JSON.stringify(RUNTIME)})
    const { createComponents } = await import(${JSON.stringify(components)})
    const c = createComponents({ logger: { format: 'json' } })
    reportUnhandledRejections(c)
    const reported = new Promise(resolve => { process.once('unhandledRejection', () => { setImmediate(resolve) }) })
    Promise.reject(new RangeError('nobody waits for this'))
    await reported
    const errors = (await c.metrics.registry.getSingleMetric('lilypad_errors_total').get()).values
    console.log(JSON.stringify(errors))`
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })
  t.is(r.status, 0, r.stderr)
  const line = r.stderr.split('\n').find(l => l.includes('nobody handled'))
  t.truthy(line, r.stderr)
  const log = JSON.parse(line!) as { level: number, component: string, err: { message: string, type: string } }
  t.is(log.component, 'process')
  t.is(log.err.message, 'nobody waits for this')
  t.deepEqual(JSON.parse(r.stdout), [{ value: 1, labels: { component: 'process', kind: 'RangeError' } }])
})
