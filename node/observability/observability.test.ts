import test from 'ava'
import { createLogger, prettyLine, parseLogLevel, InvalidLogLevelError } from './logger.ts'
import { LilypadMetrics, serveMetrics, MetricsPortError } from './metrics.ts'
import { createComponents, reportError } from '../components.ts'

function capture (): { lines: string[], write: (s: string) => void } {
  const lines: string[] = []
  return { lines, write: (s: string) => { lines.push(s) } }
}

test('JSON log lines carry level, message and fields; secrets are redacted by field name', t => {
  const out = capture()
  const log = createLogger({ format: 'json', destination: out, base: { node: 'rp-1' }, level: 'info' })
  log.child({ component: 'provider' }).info({ dealId: '0xabc', privateKey: '0x' + '11'.repeat(32), nested: { token: 'sekrit' } }, 'deal agreed')
  t.is(out.lines.length, 1)
  const rec = JSON.parse(out.lines[0]) as Record<string, unknown>
  t.is(rec.msg, 'deal agreed')
  t.is(rec.level, 30)
  t.is(rec.component, 'provider')
  t.is(rec.node, 'rp-1')
  t.is(rec.dealId, '0xabc')
  t.is(rec.privateKey, '[redacted]')
  t.deepEqual(rec.nested, { token: '[redacted]' })
  t.false(out.lines[0].includes('1111111111'))
})

test('the human format is one line with time, level, component, message and fields; levels filter', t => {
  const out = capture()
  const log = createLogger({ format: 'pretty', destination: out, level: 'warn' })
  log.info('not shown')
  log.warn({ component: 'chain', method: 'agree', attempt: 2 }, 'retrying')
  t.is(out.lines.length, 1)
  t.regex(out.lines[0], /^\d\d:\d\d:\d\d\.\d{3} WARN  chain\s+retrying method=agree attempt=2\n$/)
  t.is(prettyLine('not json'), 'not json')
  t.is(parseLogLevel('debug'), 'debug')
  t.throws(() => parseLogLevel('loud'), { instanceOf: InvalidLogLevelError })
})

test('metrics are served in Prometheus text on loopback; a handled error is logged and counted', async t => {
  const out = capture()
  const c = createComponents({ logger: { format: 'json', destination: out }, metrics: new LilypadMetrics({ defaultMetrics: false }) })
  c.metrics.dealTransitions.inc({ role: 'provider', state: 'agreed' })
  c.metrics.deals.set({ role: 'provider', state: 'running' }, 2)
  reportError(c, 'provider', new RangeError('bad'), 'result delivery failed', { dealId: '0x1' })
  const served = await serveMetrics(c.metrics, { port: 0 })
  t.teardown(served.close)
  t.regex(served.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
  const body = await (await fetch(served.url)).text()
  t.regex(body, /lilypad_deal_transitions_total\{role="provider",state="agreed"\} 1/)
  t.regex(body, /lilypad_deals\{role="provider",state="running"\} 2/)
  t.regex(body, /lilypad_errors_total\{component="provider",kind="RangeError"\} 1/)
  t.is((await fetch(served.url.replace('/metrics', '/other'))).status, 404)
  const rec = JSON.parse(out.lines[0]) as { msg: string, level: number, err: { type: string, message: string } }
  t.is(rec.msg, 'result delivery failed')
  t.is(rec.level, 40)
  t.is(rec.err.type, 'RangeError')
  await t.throwsAsync(serveMetrics(c.metrics, { port: Number(new URL(served.url).port) }), { instanceOf: MetricsPortError })
})
