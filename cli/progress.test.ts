import test from 'ava'
import { CustomProgressEvent } from 'progress-events'
import { Progress, resultStatusLines } from './progress.ts'

function clock (...ticks: number[]): () => number {
  let i = 0
  return () => ticks[Math.min(i++, ticks.length - 1)]
}

test('phases record the time since the previous phase and print elapsed totals', t => {
  let text = ''
  const p = new Progress({ out: { write: s => { text += s } }, now: clock(0, 100, 350, 1000) })
  p.phase('offered')
  p.phase('matched', 'provider 0xabc')
  p.phase('agreed', 'tx 0x12')
  t.deepEqual(p.phasesMs, { offered: 100, matched: 250, agreed: 650 })
  t.regex(text, /0\.35s {2}✔ matched {9}provider 0xabc/)
  t.is(text.split('\n').filter(Boolean).length, 3)
})

test('json mode prints nothing while running but keeps phases and txs', t => {
  let text = ''
  const p = new Progress({ json: true, out: { write: s => { text += s } }, now: clock(0, 5, 9) })
  p.phase('offered')
  p.note('retrying')
  p.tx('agree', '0xdead', 123456n)
  t.is(text, '')
  t.deepEqual(p.txs, [{ what: 'agree', hash: '0xdead', gasUsed: '123456' }])
  t.is(p.phasesMs.offered, 5)
})

test('the job creator\'s typed progress events become lines and records', t => {
  let text = ''
  const p = new Progress({ out: { write: s => { text += s } }, now: clock(0, 40, 90) })
  p.handle(new CustomProgressEvent('lilypad:job:phase', { phase: 'offered', detail: 'cowsay', ms: 40 }))
  p.handle(new CustomProgressEvent('lilypad:job:tx', { what: 'accept(1)', hash: '0xbeef', gasUsed: 48000n }))
  p.handle(new CustomProgressEvent('lilypad:job:note', { message: 'retrying with another provider' }))
  t.regex(text, /✔ offer sent {6}cowsay/)
  t.regex(text, /· retrying with another provider/)
  t.deepEqual(p.txs, [{ what: 'accept(1)', hash: '0xbeef', gasUsed: '48000' }])
})

test('a result that did not end on its own is named with its limit; truncation is a note; an ordinary run says nothing', t => {
  t.deepEqual(resultStatusLines({ status: 'ok' }), [])
  t.deepEqual(resultStatusLines(undefined), [], 'a result from a provider that writes no status file')
  t.deepEqual(resultStatusLines({ status: 'timeout', limits: { timeoutSec: 2 } }), ['error: the job was stopped at its time limit (2 s)'])
  t.deepEqual(resultStatusLines({ status: 'killed', limits: { ramMb: 16 } }), ['error: the job was killed (SIGKILL) before it exited: most likely it ran out of memory (limit 16 MB)'])
  t.deepEqual(resultStatusLines({ status: 'output-limit', limits: { outputBytes: 100 * 1024 * 1024 } }), ['error: the job\'s outputs went over the 100 MiB cap: they were dropped (outputs/ is empty)'])
  t.deepEqual(resultStatusLines({ status: 'killed' }), ['error: the job was killed (SIGKILL) before it exited'])
  t.deepEqual(resultStatusLines({ status: 'ok', truncated: { stdout: true, stderr: true }, limits: { streamBytes: 4 * 1024 * 1024 } }), ['note: stdout and stderr were cut at 4 MiB'])
  t.deepEqual(resultStatusLines({ status: 'timeout', truncated: { stderr: true }, limits: { timeoutSec: 5, streamBytes: 1000 } }), ['error: the job was stopped at its time limit (5 s)', 'note: stderr was cut at 1000 bytes'])
  t.deepEqual(resultStatusLines(undefined, 'unknown status "fine"'), ['warning: the result\'s status file is unusable (unknown status "fine")'])
})

test('live output is shown on the progress stream as whole lines, marked by stream, with control characters escaped; json mode shows none', t => {
  let text = ''
  const p = new Progress({ out: { write: s => { text += s } }, now: clock(0, 10, 20) })
  p.handle(new CustomProgressEvent('lilypad:job:log', { stream: 'stdout' as const, data: 'tick 1\ntick' }))
  p.handle(new CustomProgressEvent('lilypad:job:log', { stream: 'stderr' as const, data: 'oops \u001b[31mred\n' }))
  p.handle(new CustomProgressEvent('lilypad:job:log', { stream: 'stdout' as const, data: ' 2\n' }))
  t.is(text, '         │ tick 1\n         ! oops \\x1b[31mred\n         │ tick 2\n')
  p.handle(new CustomProgressEvent('lilypad:job:log', { stream: 'stdout' as const, data: 'no newline' }))
  p.phase('result')
  t.regex(text, /│ no newline\n.*✔ result/)
  let json = ''
  const q = new Progress({ json: true, out: { write: s => { json += s } } })
  q.handle(new CustomProgressEvent('lilypad:job:log', { stream: 'stdout' as const, data: 'hidden\n' }))
  t.is(json, '')
})
