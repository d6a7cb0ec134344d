// Errors that name the fix: what a module author or a user sees when a template renders badly, with positions
// in the template and in the rendered output told apart, trailing commas warned about, and the inputs a
// module reads listed with their defaults.
import test from 'ava'
import * as jsonc from 'jsonc-parser'
import { declaredInputs, parseLenientJson, renderModule, machineRequirement, containerResources, DEFAULT_RESOURCES } from './index.ts'

// An SDXL-style module as public ones are written: Prompt is printed without a default on line 9.
const SDXL = `{
  "machine": { "gpu": 1, "cpu": 8000, "ram": 16000, "gpus": [ { "name": "NVIDIA H100", "vram": 40000 } ], "cuda": "12.4" },
  "job": {
    "APIVersion": "V1beta1",
    "Spec": {
      "Engine": "Docker",
      "Docker": {
        "Image": "example.org/sdxl@sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "Entrypoint": ["python3", {{ .Prompt }}],
        "EnvironmentVariables": [
          {{ if .Seed }}"{{ subst "SEED=%s" .Seed }}"{{ else }}"SEED=42"{{ end }},
          "STEPS={{ or .Steps "30" }}",
          {{ if .Style }}"{{ subst "STYLE=%s" .Style }}"{{ else }}"STYLE=photographic"{{ end }}
        ]
      },
      "Resources": { "GPU": "all" },
      "Outputs": [ { "Name": "outputs", "Path": "/outputs" } ]
    }
  }
}`

test('a missing input is named with its template position, not as a JSON error', t => {
  const err = t.throws(() => renderModule(SDXL, { Seed: '7' }))
  t.is(err.name, 'MissingInputError')
  t.true(err.message.startsWith('missing input "Prompt" (.Prompt at 9:38 in the template)'), err.message)
  t.regex(err.message, /rendered as "<no value>", so the rendered template is not valid JSON: unexpected "<no" where a value was expected at line 9, column 35 of the rendered output \(from the template at 9:38\)/)
  t.regex((err as unknown as { hint: string }).hint, /-i Prompt=…; .*lilypad module inputs <module>/)
  t.deepEqual((err as unknown as { inputs: string[] }).inputs, ['Prompt'])
})

test('a missing input a function needs is named too (subst of nothing)', t => {
  const err = t.throws(() => renderModule('{ "job": { "Spec": { "Docker": { "Image": "x", "Entrypoint": ["{{ subst "%s" .Text }}"] } } } }', {}))
  t.is(err.name, 'MissingInputError')
  t.regex(err.message, /^missing input "Text" \(\.Text at 1:78 in the template\); subst cannot use its "no value"/)
})

test('the module renders with the input; Resources.GPU "all", the GPU model and CUDA version are read', t => {
  const { spec, warnings } = renderModule(SDXL, { Prompt: 'a frog' })
  t.deepEqual(spec.entrypoint, ['python3', 'a frog'])
  t.deepEqual(spec.env, { SEED: '42', STEPS: '30', STYLE: 'photographic' })
  t.deepEqual(spec.resources, { cpu: 8000, ramMb: 16000, diskMb: 1024, gpus: 1, gpuVramMb: 40000, gpuModel: 'NVIDIA H100', cudaVersion: 12040, allGpus: true })
  t.deepEqual(warnings, [])
  // "all" with no machine block still means at least one GPU.
  const bare = renderModule('{ "job": { "Spec": { "Docker": { "Image": "x" }, "Resources": { "GPU": "all" } } } }', {})
  t.deepEqual([bare.spec.resources.gpus, bare.spec.resources.allGpus], [1, true])
})

test('a JSON error names its line and column in the rendered output and the template position that made it', t => {
  const tpl = '{\n  "job": { "Spec": { "Docker": { "Image": "x",\n    "Entrypoint": ["sh", "-c", "echo {{ subst "%s" .Text }}"] } } }\n}'
  const err = t.throws(() => renderModule(tpl, { Text: 'say "hi"' }))
  t.is(err.name, 'ModuleSpecError')
  // The quote inside the input ends the JSON string early; the error points where the JSON breaks.
  t.regex(err.message, /not valid JSON: expected "," or "\]" after an array element, found "hi" at line 3, column 43 of the rendered output \(from the template at 3:41\)/)
  t.regex(err.message, /\n {2} {4}"Entrypoint": \["sh", "-c", "echo say "hi""\] \} \} \}\n {2} {42}\^$/)
})

test('when the lenient parse fails, its own error is shown, not the strict parser\'s complaint about a trailing comma', t => {
  const tpl = '{\n  "job": { "Spec": { "Docker": { "Image": "x", "Entrypoint": ["a", "b",] },\n    "Timeout": 30\n    "Network": { "Type": "None" } } }\n}'
  let strict = ''
  try { JSON.parse(tpl) } catch (e) { strict = (e as Error).message }
  t.regex(strict, /^Unexpected token '\]', \.\.\."\["a", "b",\] \}/, 'the strict parser stops at the trailing comma on line 2')
  const err = t.throws(() => renderModule(tpl, {}))
  t.is(err.name, 'ModuleSpecError')
  t.regex(err.message, /expected "," or "\}" after an object member, found "Network" at line 4, column 5 of the rendered output/)
  t.notRegex(err.message, /Unexpected token|line 2/)
})

test('trailing commas are dropped with a warning that Lilypad rejects them, with both positions', t => {
  const tpl = '{ "job": { "Spec": { "Docker": { "Image": "x",\n  "EnvironmentVariables": [\n    "A=1",\n    {{ if .B }}"B=2",{{ end }}\n  ] } } } }'
  const { spec, warnings } = renderModule(tpl, {})
  t.deepEqual(spec.env, { A: '1' })
  t.deepEqual(warnings.map(w => w.code), ['TRAILING_COMMA'])
  t.regex(warnings[0].message, /^trailing comma at line 3, column 10 of the rendered output \(from the template at 3:10\) was ignored here, but Lilypad \(Go's encoding\/json\) rejects the module/)
  t.deepEqual(renderModule(tpl, { B: 'y' }).warnings.map(w => w.code), ['TRAILING_COMMA'])
  t.regex(renderModule(tpl, { B: 'y' }).warnings[0].message, /line 4, column 10 of the rendered output \(from the template at 4:21\)/)
})

test('a missing input that still makes valid JSON is a warning, not silence', t => {
  const { spec, warnings } = renderModule('{ "job": { "Spec": { "Docker": { "Image": "x", "Entrypoint": ["echo", "{{ js .Word }}"] } } } }', {})
  t.deepEqual(spec.entrypoint, ['echo', '<no value>'], 'js escapes < and > as \\u003C and \\u003E, which JSON decodes')
  t.deepEqual(warnings.map(w => w.code), ['MISSING_INPUT'])
  t.regex(warnings[0].message, /^input "Word" is missing \(\.Word at 1:78 in the template\)/)
})

test('declared inputs: each input with whether it is required, its default and where it is read', t => {
  const inputs = declaredInputs(SDXL)
  t.deepEqual(inputs.map(i => [i.name, i.required, i.default, i.defaultKind]), [
    ['Prompt', true, undefined, undefined],
    ['Seed', false, '42', 'value'],
    ['Steps', false, '30', 'value'],
    ['Style', false, 'photographic', 'value']
  ])
  t.deepEqual(inputs[0].uses, [{ line: 9, col: 38 }])
  t.deepEqual(inputs[1].uses.map(p => p.line), [11, 11])
  // A default that is not the input's value in another shape is shown as what the template renders instead.
  const other = declaredInputs('["a", {{ if .Mode }}{{ .Mode }}, "b"{{ else }}"fast"{{ end }}] {{ with $.Extra }}{{ . }}{{ end }} {{ index . "Raw" }}')
  t.deepEqual(other.map(i => [i.name, i.required, i.default, i.defaultKind]), [
    ['Mode', false, '"fast"', 'rendered'],
    ['Extra', false, undefined, undefined],
    ['Raw', true, undefined, undefined]
  ])
})

test('lenient JSON: jsonc-parser\'s token kinds are the values used here; deep invalid nesting is an error, not a stack overflow', t => {
  const kinds = (jsonc as unknown as { SyntaxKind: Record<string, number>, ScanError: Record<string, number> })
  t.is(kinds.SyntaxKind.CloseBracketToken, 4)
  t.is(kinds.SyntaxKind.EOF, 17)
  t.is(kinds.ScanError.InvalidCharacter, 6)
  const deep = '['.repeat(200_000) + '1,' + ']'.repeat(199_999)
  const err = t.throws(() => parseLenientJson(deep))
  t.is(err.name, 'LenientJsonError')
  t.is((err as unknown as { offset: number }).offset, deep.length)
  t.deepEqual(parseLenientJson('{"a": [1, 2,], "b": {"c": 3,},}'), { value: { a: [1, 2], b: { c: 3 } }, trailingCommas: [11, 27, 29] })
  t.deepEqual(parseLenientJson('{"s": "a,]"}').trailingCommas, [])
})

test('GPU flags raise what the module asks for; a model or VRAM implies a GPU', t => {
  const r = { ...DEFAULT_RESOURCES, gpus: 1, gpuVramMb: 16000 }
  t.deepEqual(machineRequirement(r, { gpus: 2, gpuModel: 'H100', gpuVramMb: 8000 }), { cpu: 1000, ramMb: 512, diskMb: 1024, gpus: 2, gpuVramMb: 16000, gpuModel: 'H100', cudaVersion: 0 })
  t.deepEqual(machineRequirement(DEFAULT_RESOURCES, { gpuVramMb: 24000 }).gpus, 1)
  t.deepEqual(machineRequirement(DEFAULT_RESOURCES, { gpuModel: 'RTX 4090' }).gpus, 1)
  t.deepEqual(machineRequirement(DEFAULT_RESOURCES, {}).gpus, 0)
  for (const bad of [{ gpus: -1 }, { gpus: 1.5 }, { gpus: 70_000 }, { gpuVramMb: -5 }, { gpuModel: 'x'.repeat(65) }, { gpuModel: 'a\nb' }]) {
    const err = t.throws(() => machineRequirement(DEFAULT_RESOURCES, bad))
    t.is(err.name, 'GpuRequirementError')
  }
})

test('CPU and memory flags raise what the module asks for (never lower it), and the container is given what the job asked', t => {
  // DEFAULT_RESOURCES: a core and 512 MiB
  t.like(machineRequirement(DEFAULT_RESOURCES, {}, { cpu: 2000, ramMb: 4096 }), { cpu: 2000, ramMb: 4096, gpus: 0 })
  t.like(machineRequirement(DEFAULT_RESOURCES, {}, { cpu: 500, ramMb: 64 }), { cpu: 1000, ramMb: 512 }, 'raise only: the module knows what it needs at least')
  t.like(machineRequirement(DEFAULT_RESOURCES, { gpus: 1 }, { ramMb: 8192 }), { cpu: 1000, ramMb: 8192, gpus: 1 })
  for (const bad of [{ cpu: -1 }, { cpu: 1.5 }, { ramMb: 2 ** 33 }]) {
    const err = t.throws(() => machineRequirement(DEFAULT_RESOURCES, {}, bad))
    t.is(err.name, 'CpuRequirementError')
  }
  // the provider runs the job's container with the CPU and memory the job offer asked (a canary's whole slot), the
  // module's when it asked no more
  t.deepEqual(containerResources(DEFAULT_RESOURCES, { cpu: 2000, ramMb: 4096 }), { ...DEFAULT_RESOURCES, cpu: 2000, ramMb: 4096 })
  t.deepEqual(containerResources(DEFAULT_RESOURCES, { cpu: 1000, ramMb: 512 }), DEFAULT_RESOURCES)
  t.deepEqual(containerResources({ ...DEFAULT_RESOURCES, cpu: 3000 }, { cpu: 2000, ramMb: 0 }), { ...DEFAULT_RESOURCES, cpu: 3000 })
})
