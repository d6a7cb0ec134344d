import test from 'ava'
import { Wallet, ZeroHash } from 'ethers'
import { signCanaryReport, verifyCanaryReport, canaryReportId, canaryReportToJson, canaryReportFromJson, CanaryOutcome, CanaryReportError, type CanaryReport, type RewardsDomain } from './canary-report.ts'

const validator = new Wallet('0x' + '5'.repeat(64))
const other = new Wallet('0x' + '6'.repeat(64))
const domain: RewardsDomain = { chainId: 1337n, verifyingContract: '0x' + '7'.repeat(40) }
const report: CanaryReport = { epoch: 3n, provider: '0x' + '8'.repeat(40), dealId: '0x' + '9'.repeat(64), outcome: CanaryOutcome.Passed, units: 3000, observedAt: 1_700_000_000n }

test('a signed report verifies against the validator set, and only there', async t => {
  const s = await signCanaryReport(domain, report, validator)
  t.is(verifyCanaryReport(domain, s, [validator.address]), validator.address)
  const notOurs = t.throws(() => verifyCanaryReport(domain, s, [other.address]), { instanceOf: CanaryReportError })
  t.is(notOurs?.code, 'NOT_A_VALIDATOR')
  // a report changed after signing recovers another key; another network's domain too
  t.is(t.throws(() => verifyCanaryReport(domain, { ...s, report: { ...report, outcome: CanaryOutcome.WrongResult } }, [validator.address]), { instanceOf: CanaryReportError })?.code, 'NOT_A_VALIDATOR')
  t.is(t.throws(() => verifyCanaryReport({ ...domain, chainId: 1n }, s, [validator.address]), { instanceOf: CanaryReportError })?.code, 'NOT_A_VALIDATOR')
  t.is(t.throws(() => verifyCanaryReport(domain, { ...s, signature: '0x1234' }, [validator.address]), { instanceOf: CanaryReportError })?.code, 'BAD_SIGNATURE')
  t.not(canaryReportId(domain, report), canaryReportId({ ...domain, verifyingContract: '0x' + '1'.repeat(40) }, report))
})

test('malformed reports are refused before any signature is looked at', async t => {
  for (const bad of [
    { ...report, outcome: 5 },
    { ...report, outcome: CanaryOutcome.Unreachable }, // unreachable, yet names a deal
    { ...report, dealId: ZeroHash }, // a pass with no deal
    { ...report, units: 2 ** 32 },
    { ...report, provider: '0x' + '0'.repeat(40) },
    { ...report, epoch: 1n << 64n }
  ] as CanaryReport[]) {
    const err = await t.throwsAsync(signCanaryReport(domain, bad, validator), { instanceOf: CanaryReportError })
    t.is(err?.code, 'SCHEMA')
  }
})

test('JSON round-trip, and bad JSON refused by name', async t => {
  const s = await signCanaryReport(domain, report, validator)
  const back = canaryReportFromJson(JSON.parse(JSON.stringify(canaryReportToJson(s))))
  t.deepEqual(back.report, { ...report, provider: report.provider })
  t.is(verifyCanaryReport(domain, back, [validator.address]), validator.address)
  for (const bad of [null, {}, { ...canaryReportToJson(s), epoch: 3 }, { ...canaryReportToJson(s), signature: '0x12' }, { ...canaryReportToJson(s), outcome: 9 }]) {
    t.is(t.throws(() => canaryReportFromJson(bad), { instanceOf: CanaryReportError })?.code, 'SCHEMA')
  }
})
