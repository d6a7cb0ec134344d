// The attacks a hostile module template can make on the node that renders it, each performed for real: every
// one ends in its named limit error with a hint. Each render runs in a worker thread with a 64 MB heap and
// the default 4 MB stack, so a template that made the engine allocate in proportion to what it asks for
// (a range over 10^9, a gigabyte of output) or recurse once per nesting level would kill the worker
// (ERR_WORKER_OUT_OF_MEMORY, or a stack overflow) instead of answering with the error.
import test from 'ava'
import { Worker } from 'node:worker_threads'
import { Template, renderLilypadTemplate, DEFAULT_TEMPLATE_LIMITS, type TemplateLimits } from './index.ts'

interface Answer { ok: boolean, output?: string, bytes?: number, steps?: number, name?: string, message?: string, hint?: string, limit?: number }

// The worker's clock stands still, so only the limit under test can end a render, however loaded the machine.
async function renderIsolated (src: string, limits: Partial<Omit<TemplateLimits, 'now'>> = {}, inputs: Record<string, string> = {}): Promise<Answer> {
  const worker = new Worker(new URL('./testing/render-worker.ts', import.meta.url), {
    workerData: { src, inputs, limits, frozenClock: true },
    resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 }
  })
  return await new Promise((resolve, reject) => {
    worker.once('message', (m: Answer) => { resolve(m); void worker.terminate() })
    worker.once('error', reject)
    worker.once('exit', code => { reject(new Error(`the render worker exited with code ${code} without answering`)) })
  })
}

const parens = (n: number, inner = '1'): string => '{{ ' + '('.repeat(n) + inner + ')'.repeat(n) + ' }}'

test('nested range over large integers: TemplateStepLimitError, with no allocation for the range', async t => {
  const r = await renderIsolated('{{ range 1000000000 }}{{ range 1000000000 }}{{ . }}{{ end }}{{ end }}', { maxOutputBytes: 64 * 1024 * 1024 })
  t.false(r.ok)
  t.is(r.name, 'TemplateStepLimitError')
  t.is(r.limit, DEFAULT_TEMPLATE_LIMITS.maxSteps)
  t.regex(r.message ?? '', /ran more than 200000 steps at 1:/)
  t.regex(r.hint ?? '', /range over a large number/)
  // A range over a number starts without materialising it: an early break over 10^15 iterations is cheap.
  const early = await renderIsolated('{{ range $i := 1000000000000000 }}{{ if eq $i 3 }}{{ break }}{{ end }}{{ $i }}{{ end }}')
  t.deepEqual([early.ok, early.output], [true, '012'])
})

test('output bomb: TemplateOutputLimitError before the output is built', async t => {
  const r = await renderIsolated('{{ range 1000000000 }}' + 'x'.repeat(1000) + '{{ end }}')
  t.is(r.name, 'TemplateOutputLimitError')
  t.regex(r.message ?? '', /rendered output would exceed 1048576 bytes/)
  // A value doubled in a variable is never printed but would still fill the memory: it is bounded too.
  const doubling = await renderIsolated('{{ $x := "0123456789abcdef" }}{{ range 64 }}{{ $x = printf "%s%s" $x $x }}{{ end }}{{ len $x }}')
  t.is(doubling.name, 'TemplateOutputLimitError')
  t.regex(doubling.message ?? '', /a value computed by the template would exceed/)
  // Padding asked for by a format is refused as Go refuses it (fmt's tooLarge), not allocated.
  const padded = await renderIsolated('{{ printf "%999999999d" 1 }}|{{ printf "%*d" 1000000000 7 }}|{{ printf "%.*f" -1 2.5 }}')
  t.deepEqual([padded.ok, padded.output], [true, '%!(NOVERB)%!(EXTRA int=1)|%!(BADWIDTH)7|%!(BADPREC)2.500000'])
})

test('parentheses: 2,000 and 10,000 deep render (as Go); 10,001 and 20,000 are TemplateNestingError, never a stack overflow', async t => {
  for (const n of [2000, 10_000]) {
    const r = await renderIsolated(parens(n, 'print "deep"'))
    t.deepEqual([r.ok, r.output], [true, 'deep'], `${n} deep`)
  }
  for (const n of [10_001, 20_000]) {
    const r = await renderIsolated(parens(n))
    t.is(r.name, 'TemplateNestingError', `${n} deep`)
    t.regex(r.message ?? '', /^max expression depth exceeded \(more than 10000 nested parentheses\) at 1:10004$/)
    t.regex(r.hint ?? '', /flatten the template/)
  }
  // The bound is the limit, not the JavaScript stack: raised, 20,000 levels parse and evaluate in 4 MB of stack.
  const raised = await renderIsolated(parens(20_000, 'len "abc"'), { maxParenDepth: 20_000 })
  t.deepEqual([raised.ok, raised.output], [true, '3'])
})

test('nesting of controls: thousands of {{if}} and a long {{else if}} chain run; past the limits, TemplateNestingError', async t => {
  const ifs = await renderIsolated('{{ if 1 }}'.repeat(5000) + 'in' + '{{ end }}'.repeat(5000))
  t.deepEqual([ifs.ok, ifs.output], [true, 'in'])
  const chain = await renderIsolated('{{ if 0 }}' + '{{ else if 0 }}'.repeat(5000) + '{{ else }}last{{ end }}')
  t.deepEqual([chain.ok, chain.output], [true, 'last'])
  const tooDeep = await renderIsolated('{{ with 1 }}'.repeat(101) + '{{ end }}'.repeat(101), { maxNesting: 100 })
  t.is(tooDeep.name, 'TemplateNestingError')
  t.regex(tooDeep.message ?? '', /more than 100 nested \{\{if\}\}\/\{\{with\}\}\/\{\{range\}\} at 1:1204/)
  const ranges = await renderIsolated('{{ range 2 }}'.repeat(101) + 'x' + '{{ end }}'.repeat(101))
  t.is(ranges.name, 'TemplateNestingError')
  t.regex(ranges.message ?? '', /more than 100 nested \{\{range\}\}/)
  const pipeline = await renderIsolated('{{ 1' + ' | print'.repeat(11) + ' }}', { maxPipelineCommands: 10 })
  t.is(pipeline.name, 'TemplateNestingError')
  t.regex(pipeline.message ?? '', /pipeline too long \(more than 10 commands\)/)
})

test('time: TemplateTimeLimitError, read from an injected clock', t => {
  let clock = 0
  // Each reading of the clock moves it a second: the first check (after 256 steps) is past the limit.
  const now = (): number => { const c = clock; clock += 1000; return c }
  const err = t.throws(() => Template.parse('{{ range 100000 }}{{ end }}').render({}, { now, maxTimeMs: 500 }))
  t.is(err.name, 'TemplateTimeLimitError')
  t.regex(err.message, /rendering took more than 500 ms at 1:4/)
  t.is((err as unknown as { hint: string }).hint.length > 0, true)
  // The same template with a patient clock finishes.
  t.is(Template.parse('{{ range 1000 }}{{ end }}ok').render({}, { now: () => 0 }).output, 'ok')
})

test('source size: TemplateTooLargeError before anything is lexed', t => {
  const err = t.throws(() => renderLilypadTemplate(' '.repeat(DEFAULT_TEMPLATE_LIMITS.maxTemplateBytes + 1), {}))
  t.is(err.name, 'TemplateTooLargeError')
  t.regex(err.message, /more than the 524288 allowed/)
})

test('long runs of spaces before a trim marker cost linear time (no quadratic regex on hostile sources)', async t => {
  const r = await renderIsolated('a' + ' '.repeat(400_000) + 'b {{- "c" }}')
  t.deepEqual([r.ok, r.bytes], [true, 400_003])
})
