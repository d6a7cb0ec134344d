// The JobManager's canonical inputs JSON (contracts/src/CanonicalInputs.sol) against protocols/contract-job on
// random inputs: the same bytes for every valid request (escapes, control characters, any Unicode), the same
// named refusal for every invalid one. A completion is accepted only when the job offer's inputs equal the
// contract's JSON, so one differing byte would make every such job unpayable.
import test from 'ava'
import fc from 'fast-check'
import { AbiCoder, Interface, getBytes, hexlify, toUtf8Bytes } from 'ethers'
import { startDevnet, type Devnet } from '../fixture.ts'
import { JobManagerAbi } from '../generated/index.ts'
import { canonicalInputsJson, checkInputList, parseRequestInputs, RequestInputsError, MAX_INPUTS } from '../../protocols/contract-job/index.ts'
import { decodeRevert, revertDataOf } from '../../node/chain/index.ts'

let net: Devnet
test.before(async () => { net = await startDevnet() })
test.after.always(async () => { await net?.stop() })

const iface = new Interface(JobManagerAbi as unknown as string[])
const RUNS = Number(process.env.LILYPAD_PROPERTY_RUNS ?? 300)

/** Calls inputsJson with raw key/value bytes (ABI `string` and `bytes` encode alike, so invalid UTF-8 can be sent). */
async function contractJson (pairs: Array<[Uint8Array, Uint8Array]>): Promise<{ json?: string, error?: string }> {
  const data = iface.getFunction('inputsJson')!.selector + AbiCoder.defaultAbiCoder().encode(['(bytes,bytes)[]'], [pairs.map(([k, v]) => [k, v])]).slice(2)
  try {
    const out = await net.provider.call({ to: net.deployment.contracts.jobManager, data })
    return { json: hexlify(getBytes(AbiCoder.defaultAbiCoder().decode(['bytes'], out)[0] as string)) }
  } catch (err) {
    return { error: decodeRevert(revertDataOf(err))?.name ?? 'unknown revert' }
  }
}

const key = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,15}$/)
// every code point, with control characters, quotes and backslashes over-represented
const value = fc.array(fc.oneof(
  fc.constantFrom('"', '\\', '\b', '\t', '\n', '\f', '\r', '\u0000', '\u001f', '\u007f', '\u2028', 'é', '🐮', '/'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 3 })
), { maxLength: 40 }).map(cs => cs.join(''))

test('for any valid inputs the contract writes exactly canonicalInputsJson, and the bridge parses it back', async t => {
  await fc.assert(fc.asyncProperty(fc.dictionary(key, value, { maxKeys: 8 }), async inputs => {
    const pairs = Object.entries(inputs).sort(([a], [b]) => a < b ? -1 : 1).map(([k, v]): [Uint8Array, Uint8Array] => [toUtf8Bytes(k), toUtf8Bytes(v)])
    const expected = canonicalInputsJson(inputs)
    const got = await contractJson(pairs)
    if (got.json !== hexlify(toUtf8Bytes(expected))) throw new Error(`contract ${got.error ?? Buffer.from(getBytes(got.json!)).toString()} vs ${expected}`)
    const parsed = parseRequestInputs(getBytes(got.json))
    if (canonicalInputsJson(parsed) !== expected || Object.keys(parsed).length !== Object.keys(inputs).length) throw new Error('round trip')
  }), { numRuns: RUNS, seed: 20261130 })
  t.pass()
})

test('the contract and checkInputList refuse the same inputs, by name', async t => {
  const cases: Array<{ pairs: Array<[string, string]>, error: string }> = [
    { pairs: [['b', ''], ['a', '']], error: 'InputsNotSorted' },
    { pairs: [['a', ''], ['a', '']], error: 'InputsNotSorted' },
    { pairs: [['', 'x']], error: 'InvalidInputKey' },
    { pairs: [['9lives', 'x']], error: 'InvalidInputKey' },
    { pairs: [['a-b', 'x']], error: 'InvalidInputKey' },
    { pairs: [['k'.repeat(65), 'x']], error: 'InvalidInputKey' },
    { pairs: [['a', 'x'.repeat(4097)]], error: 'InputsTooLarge' },
    { pairs: Array.from({ length: MAX_INPUTS + 1 }, (_, i): [string, string] => [`k${String(i).padStart(2, '0')}`, '']), error: 'TooManyInputs' }
  ]
  for (const c of cases) {
    const got = await contractJson(c.pairs.map(([k, v]) => [toUtf8Bytes(k), toUtf8Bytes(v)]))
    t.is(got.error, c.error, JSON.stringify(c.pairs).slice(0, 80))
    t.throws(() => { checkInputList(c.pairs.map(([k, v]) => ({ key: k, value: v }))) }, { instanceOf: RequestInputsError })
  }
})

test('a value that is not UTF-8 is refused (no event carries bytes a decoder chokes on)', async t => {
  const bad = [
    [0xff], [0xc0, 0xaf], // overlong '/'
    [0xe0, 0x80, 0xaf], // overlong
    [0xed, 0xa0, 0x80], // a surrogate
    [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
    [0xe2, 0x82], // cut short
    [0x61, 0x80] // a lone continuation byte
  ]
  for (const b of bad) {
    t.is((await contractJson([[toUtf8Bytes('a'), new Uint8Array(b)]])).error, 'InvalidUtf8', hexlify(new Uint8Array(b)))
    t.throws(() => parseRequestInputs(new Uint8Array([...toUtf8Bytes('{"a":"'), ...b, ...toUtf8Bytes('"}')])), { instanceOf: RequestInputsError })
  }
  t.is((await contractJson([[toUtf8Bytes('a'), toUtf8Bytes('\u{10ffff}\u{e000}\u07ff')]])).json, hexlify(toUtf8Bytes(canonicalInputsJson({ a: '\u{10ffff}\u{e000}\u07ff' }))))
})
