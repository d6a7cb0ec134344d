// Renders a template inside a worker thread started with small resource limits (see limits.test.ts): if the
// engine allocated in proportion to what a template asks for, or recursed per nesting level, the worker
// would die of its heap or stack limit instead of answering.
import { parentPort, workerData } from 'node:worker_threads'
import { Template, encodeInputs } from '../index.ts'

const data = workerData as { src: string, inputs: Record<string, string>, limits: Record<string, number>, frozenClock?: boolean }
const { src, inputs } = data
const limits = data.frozenClock === true ? { ...data.limits, now: () => 0 } : data.limits
try {
  const r = Template.parse(src, {}, limits).render(encodeInputs(inputs), limits)
  parentPort?.postMessage({ ok: true, output: r.output.length > 200 ? r.output.slice(0, 200) + '…' : r.output, bytes: r.output.length, steps: r.steps, heapUsed: process.memoryUsage().heapUsed })
} catch (e) {
  const err = e as Error & { hint?: string, limit?: number }
  parentPort?.postMessage({ ok: false, name: err.name, message: err.message, hint: err.hint, limit: err.limit, heapUsed: process.memoryUsage().heapUsed })
}
