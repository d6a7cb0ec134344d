// The status file's format: canonical bytes, strict parsing of what a stranger's result holds.
import test from 'ava'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeResultStatus, parseResultStatus, readResultStatus, type ResultStatus } from './status.ts'

test('canonical bytes: fixed key order, only what is set, one line', t => {
  t.is(encodeResultStatus({ status: 'ok' }), '{"status":"ok"}\n')
  t.is(encodeResultStatus({ status: 'ok', truncated: {}, limits: {} }), '{"status":"ok"}\n', 'empty parts are left out')
  t.is(encodeResultStatus({ limits: { streamBytes: 9, timeoutSec: 1 }, truncated: { stderr: true }, status: 'timeout' } as ResultStatus),
    '{"status":"timeout","truncated":{"stderr":true},"limits":{"timeoutSec":1,"streamBytes":9}}\n')
  for (const s of [{ status: 'killed', limits: { ramMb: 16 } }, { status: 'output-limit', limits: { outputBytes: 5 } }, { status: 'killed' }] as ResultStatus[]) {
    t.deepEqual(parseResultStatus(encodeResultStatus(s)), s)
  }
})

test('a hostile status file is a named error, never a crash or a silent pass', t => {
  for (const bad of ['', 'null', '[]', '"ok"', '{}', '{"status":"fine"}', '{"status":"oom"}', '{"status":"ok","extra":1}', '{"status":"ok","truncated":{"stdout":false}}',
    '{"status":"ok","truncated":{"stdin":true}}', '{"status":"ok","limits":{"ramMb":-1}}', '{"status":"ok","limits":{"ramMb":1.5}}',
    '{"status":"ok","limits":{"cpu":1}}', '{"status":"ok","limits":[]}', '{"status":{"toString":1}}']) {
    const err = t.throws(() => parseResultStatus(bad), undefined, bad)
    t.is(err?.name, 'ResultStatusError', bad)
  }
})

test('reading: missing is undefined (an older provider), oversized is refused without reading it all', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'lilypad-status-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  t.is(await readResultStatus(dir), undefined)
  await writeFile(join(dir, 'status'), '{"status":"killed","limits":{"ramMb":64}}\n')
  t.deepEqual(await readResultStatus(dir), { status: 'killed', limits: { ramMb: 64 } })
  await writeFile(join(dir, 'status'), '{"status":"ok"}' + ' '.repeat(10_000_000))
  await t.throwsAsync(readResultStatus(dir), { name: 'ResultStatusError' })
})
