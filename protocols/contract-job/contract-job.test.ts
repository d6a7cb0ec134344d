// The bridge's pure checks on a contract's request: canonical inputs, the module policy, the vetting decision,
// the template-input check. (The contract side of the inputs is compared in contracts/test/inputs.test.ts.)
import test from 'ava'
import {
  canonicalInputsJson, toInputList, parseRequestInputs, RequestInputsError, moduleRefKind, defaultAllowedModules,
  checkModule, vetRequest, checkTemplateInputs, clip, inlineOutput, jobStatusName, JobStatus, MAX_REASON_BYTES
} from './index.ts'

const COMMIT = 'a'.repeat(40)

test('canonical inputs: keys ascending in byte order, JSON.stringify escapes; the list form checks like the contract', t => {
  t.is(canonicalInputsJson({ b: '2', B: '1', a: 'x"y\n' }), '{"B":"1","a":"x\\"y\\n","b":"2"}')
  t.is(canonicalInputsJson({}), '{}')
  t.deepEqual(toInputList({ b: '2', a: '1' }), [{ key: 'a', value: '1' }, { key: 'b', value: '2' }])
  const e = t.throws(() => toInputList({ 'not-a-key': 'x' }), { instanceOf: RequestInputsError })
  t.is(e?.name, 'RequestInputsError')
  t.regex(e?.hint ?? '', /letters, digits/)
  t.throws(() => toInputList({ a: 'x'.repeat(4097) }), { message: /more than 4096 bytes/ })
})

test('parseRequestInputs takes only canonical JSON of string values and keeps __proto__ an own key', t => {
  t.deepEqual(parseRequestInputs('{"Message":"moo"}'), { Message: 'moo' })
  const odd = parseRequestInputs('{"__proto__":"x"}')
  t.is(Object.keys(odd)[0], '__proto__')
  t.is(Object.getPrototypeOf(odd), Object.prototype)
  for (const bad of ['{"b":"1","a":"2"}', '{"a": "1"}', '{"a":1}', '["a"]', 'null', '{"1":"x"}', '{"a-b":"x"}', 'nope', '{"a":"\\u00e9"}']) {
    t.throws(() => parseRequestInputs(bad), { instanceOf: RequestInputsError }, bad)
  }
  t.throws(() => parseRequestInputs(new Uint8Array([0x7b, 0xff, 0x7d])), { message: /UTF-8/ })
})

test('module references: registry names, pinned git, never paths', t => {
  t.is(moduleRefKind('cowsay:v0.0.1'), 'registry')
  t.is(moduleRefKind(`https://github.com/x/y.git#${COMMIT}`), 'git')
  t.is(moduleRefKind(`github.com/x/y:${COMMIT}`), 'git')
  for (const p of ['/etc/passwd', './mod', '../mod', 'file:///srv/m#v1', '~/m', 'mod', '/srv/repo:v1', 'C:\\m']) t.is(moduleRefKind(p), 'path', p)
  t.deepEqual(defaultAllowedModules(['wordcount:v0.1.0', 'cowsay:latest', 'cowsay:v0.0.1']), ['cowsay:v0.0.1', 'wordcount:v0.1.0'])
  const allowed = ['cowsay:v0.0.1', `https://github.com/x/y.git#${COMMIT}`]
  t.true(checkModule('cowsay:v0.0.1', allowed).ok)
  t.true(checkModule(`https://github.com/x/y.git#${COMMIT}`, allowed).ok)
  t.regex(checkModule('file:///home/bridge/.ssh#v1', ['file:///home/bridge/.ssh#v1']).reason!, /local path/)
  t.regex(checkModule('https://github.com/x/y.git#main', ['https://github.com/x/y.git#main']).reason!, /not pinned/)
  t.regex(checkModule('cowsay:v9', allowed).reason!, /not on this bridge's allow-list \(cowsay:v0.0.1/)
})

test('vetRequest: expired or too close, module refused, inputs refused, else run with the parsed inputs', t => {
  const policy = { allowed: ['cowsay:v0.0.1'], minSecondsLeft: 30 }
  const req = { jobId: 1n, module: 'cowsay:v0.0.1', inputs: '{"Message":"moo"}', deadline: 1000 }
  t.deepEqual(vetRequest(req, policy, 900), { action: 'run', inputs: { Message: 'moo' } })
  t.like(vetRequest(req, policy, 1001), { action: 'fail', reason: 'expired: the deadline passed before the bridge could run it' })
  t.like(vetRequest(req, policy, 990), { action: 'fail', reason: 'expired: only 10 s were left before the deadline' })
  t.like(vetRequest({ ...req, module: '/etc' }, policy, 900), { action: 'fail' })
  const bad = vetRequest({ ...req, inputs: new Uint8Array([0xff]) }, policy, 900)
  t.is(bad.action, 'fail')
  t.regex((bad as { reason: string }).reason, /^inputs refused: .*UTF-8/)
})

test('checkTemplateInputs names a misspelt or missing input instead of letting a default run', t => {
  const cowsay = { known: ['Message'], required: [] }
  t.is(checkTemplateInputs('cowsay:v0.0.1', cowsay, { Message: 'moo' }), null)
  t.is(checkTemplateInputs('cowsay:v0.0.1', cowsay, {}), null)
  t.is(checkTemplateInputs('cowsay:v0.0.1', cowsay, { message: 'moo' }), 'cowsay:v0.0.1 has no input message (it takes: Message)')
  t.is(checkTemplateInputs('primes:v0.1.0', { known: ['N'], required: ['N'] }, {}), 'primes:v0.1.0 needs input N')
  t.is(checkTemplateInputs('x:v1', { known: [], required: [] }, { A: '1' }), 'x:v1 has no input A (it takes: no inputs)')
})

test('clip keeps a reason within the contract\'s 256 bytes without splitting a character; inline output is 1 KiB of stdout', t => {
  const long = '🐮'.repeat(100)
  const c = clip(long, MAX_REASON_BYTES)
  t.true(new TextEncoder().encode(c).length <= MAX_REASON_BYTES)
  t.true(c.endsWith('...'))
  t.false(c.includes('\uFFFD'))
  t.is(clip('short', 256), 'short')
  t.is(inlineOutput(new Uint8Array(5000)).length, 1024)
  t.is(inlineOutput(new Uint8Array(3)).length, 3)
  t.is(jobStatusName(JobStatus.Overturned), 'Overturned')
  t.throws(() => jobStatusName(42))
})
