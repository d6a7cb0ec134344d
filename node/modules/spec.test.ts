// Public-style module templates (written after the patterns public Lilypad modules use: if/else defaults,
// subst into env vars, js, nested Spec, GPU machines, the Bacalhau v1 Job/Tasks form) rendered to JobSpecs.
import test from 'ava'
import { renderModule, parseModuleSpec, type JobSpec } from './index.ts'

const SDXL_STYLE = `{
  "machine": { "gpu": 1, "cpu": 8000, "ram": 16000, "gpus": [ { "vram": 24576 } ] },
  "job": {
    "APIVersion": "V1beta1",
    "Metadata": { "CreatedAt": "0001-01-01T00:00:00Z", "Requester": {} },
    "Spec": {
      "Deal": { "Concurrency": 1 },
      "Docker": {
        "Entrypoint": ["python3", "/app/run.py"],
        "EnvironmentVariables": [
          {{ if .Prompt }}"{{ subst "PROMPT=%s" .Prompt }}"{{ else }}"PROMPT=an astronaut riding a horse"{{ end }},
          {{ if .Seed }}"{{ subst "SEED=%s" .Seed }}"{{ else }}"SEED=42"{{ end }},
          "OUTPUT_DIR=/outputs/"
        ],
        "Image": "example.org/sdxl@sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "WorkingDirectory": "/app"
      },
      "Engine": "Docker",
      "Network": { "Type": "None" },
      "Outputs": [ { "Name": "outputs", "Path": "/outputs" } ],
      "PublisherSpec": { "Type": "IPFS" },
      "Resources": { "GPU": "1", "CPU": "8", "Memory": "16gb" },
      "Timeout": 1800,
      "Verifier": "Noop"
    }
  }
}`

test('an SDXL-style V1beta1 template with defaults, subst and a GPU machine', t => {
  const { spec } = renderModule(SDXL_STYLE, { Prompt: 'a frog on a lily pad' })
  t.deepEqual(spec, {
    image: 'example.org/sdxl@sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0',
    entrypoint: ['python3', '/app/run.py'],
    args: [],
    env: { PROMPT: 'a frog on a lily pad', SEED: '42', OUTPUT_DIR: '/outputs/' },
    workingDir: '/app',
    resources: { cpu: 8000, ramMb: 16000, diskMb: 1024, gpus: 1, gpuVramMb: 24576, gpuModel: '', cudaVersion: 0, allGpus: false },
    network: 'none',
    domains: [],
    timeoutSec: 1800,
    outputs: [{ name: 'outputs', path: '/outputs' }],
    inputFiles: [],
    inputSources: []
  } satisfies JobSpec)
  // subst puts the decoded text inside a JSON string unescaped: a quote breaks the JSON, as it does in
  // Lilypad itself, and is reported as such.
  const err = t.throws(() => renderModule(SDXL_STYLE, { Prompt: 'say "hi"' }))
  t.is(err.name, 'ModuleSpecError')
  t.regex(err.message, /not valid JSON/)
  // With no inputs the else branches give the defaults.
  t.deepEqual(renderModule(SDXL_STYLE, {}).spec.env, { PROMPT: 'an astronaut riding a horse', SEED: '42', OUTPUT_DIR: '/outputs/' })
})

const LLM_V1_STYLE = `{{- /* A v1-form module: Job/Tasks, Parameters, Resources strings, Timeouts, ResultPaths. */ -}}
{
  "machine": { "gpu": 0, "cpu": 2000, "ram": 4096 },
  "job": {
    "Job": {
      "Type": "batch",
      "Count": 1,
      "Tasks": [
        {
          "Name": "main",
          "Engine": {
            "Type": "docker",
            "Params": {
              "Image": "example.org/llm:1.2",
              "Entrypoint": ["/bin/sh", "-c"],
              "Parameters": [{{ printf "%q" (printf "llm --model %s --prompt %s > /outputs/answer.txt" (or .Model "\\"tiny\\"") .Prompt) }}],
              "EnvironmentVariables": { "TEMPERATURE": {{ if .Temperature }}{{ .Temperature }}{{ else }}"0"{{ end }} },
              "WorkingDirectory": "/work"
            }
          },
          "Resources": { "CPU": "1500m", "Memory": "2Gi", "Disk": "10gb" },
          "Network": { "Type": "HTTP", "Domains": ["models.example.org"] },
          "Timeouts": { "ExecutionTimeout": 600 },
          "ResultPaths": [ { "Name": "outputs", "Path": "/outputs" }, { "Name": "logs", "Path": "/var/log/llm" } ],
          "Publisher": { "Type": "ipfs" }
        }
      ]
    }
  }
}`

test('a v1 Job/Tasks template with parameters, env map, HTTP network and two result paths', t => {
  const { spec } = renderModule(LLM_V1_STYLE, { Prompt: 'why is the sky blue?' })
  t.is(spec.image, 'example.org/llm:1.2')
  t.deepEqual(spec.entrypoint, ['/bin/sh', '-c'])
  t.deepEqual(spec.args, ['llm --model "tiny" --prompt "why is the sky blue?" > /outputs/answer.txt'])
  t.deepEqual(spec.env, { TEMPERATURE: '0' })
  t.is(spec.workingDir, '/work')
  // The machine block wins where it speaks; the task's Resources fill in the disk.
  t.deepEqual(spec.resources, { cpu: 2000, ramMb: 4096, diskMb: 10000, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0, allGpus: false })
  t.is(spec.network, 'http')
  t.deepEqual(spec.domains, ['models.example.org'])
  t.is(spec.timeoutSec, 600)
  t.deepEqual(spec.outputs, [{ name: 'outputs', path: '/outputs' }, { name: 'logs', path: '/var/log/llm' }])
})

const JS_STYLE = `{
  "machine": { "gpu": 0, "cpu": 1000, "ram": 512 },
  "job": {
    "APIVersion": "V1beta1",
    "Spec": {
      "Engine": "Docker",
      "Docker": {
        "Image": "example.org/echo:v1",
        "Entrypoint": ["/bin/sh", "-c", "echo \\"{{ js .Text }}\\" > /outputs/text.txt"]
      },
      "Network": { "Type": "{{ if .Net }}Full{{ else }}None{{ end }}" },
      "Resources": { "CPU": "0.5", "Memory": "256Mi" }
    }
  }
}`

test('a template that escapes an input with js inside a shell string', t => {
  const { spec } = renderModule(JS_STYLE, { Text: '<ok> & "q"' })
  // js escapes the JSON-encoded value (quotes included): \" \u003C \u0026 are also valid JSON escapes, so the
  // string decodes back to the JSON-encoded input inside the shell command.
  t.deepEqual(spec.entrypoint, ['/bin/sh', '-c', 'echo ""<ok> & \\"q\\""" > /outputs/text.txt'])
  t.is(spec.network, 'none')
  t.is(spec.timeoutSec, 1800)
  t.deepEqual(spec.resources, { cpu: 1000, ramMb: 512, diskMb: 1024, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0, allGpus: false })
  t.is(renderModule(JS_STYLE, { Text: 'x', Net: 'yes' }).spec.network, 'full')
})

test('Lilypad\'s own cowsay template shape renders the message as one argument', t => {
  const tmpl = '{"machine":{"gpu":0,"cpu":1000,"ram":100},"job":{"APIVersion":"V1beta1","Spec":{"Deal":{"Concurrency":1},"Docker":{"Entrypoint":["cowsay",{{.Message}}],"EnvironmentVariables":[],"Image":"grycap/cowsay:latest@sha256:fad516b39e3a587f33ce3dbbb1e646073ef35e0b696bcf9afb1a3e399ce2ab0b"},"Engine":"Docker","Network":{"Type":"None"},"Outputs":[{"Name":"outputs","Path":"/outputs"}],"PublisherSpec":{"Type":"IPFS"},"Resources":{"GPU":""},"Timeout":1800,"Verifier":"Noop"}}}'
  const { spec } = renderModule(tmpl, { Message: 'moo; rm -rf / "$(x)"' })
  t.deepEqual(spec.entrypoint, ['cowsay', 'moo; rm -rf / "$(x)"'])
  t.is(spec.resources.ramMb, 100)
})

// The later V1beta1 spelling: an empty "Docker" next to "EngineSpec" { Type, Params }, a null Entrypoint,
// optional env entries each ending in a comma inside {{ if }} (so the list may end in a trailing comma when
// the last fixed entry is dropped), Memory in MB.
const ENGINE_SPEC_STYLE = `{
    "machine": { "gpu": 1, "vram": 12000, "cpu": 2000, "ram": 8000 },
    "job": {
        "APIVersion": "V1beta1",
        "Spec": {
            "Deal": { "Concurrency": 1 },
            "Docker": {},
            "EngineSpec": {
                "Type": "docker",
                "Params": {
                    "Entrypoint": null,
                    "EnvironmentVariables": [
                        {{ if .Prompt }}"{{ subst "PROMPT=%s" .Prompt }}",{{ end }}
                        {{ if .Steps }}"{{ subst "STEPS=%s" .Steps }}",{{ end }}
                    ],
                    "Image": "example.org/diffusion:v2@sha256:1111111111111111111111111111111111111111111111111111111111111111",
                    "Parameters": [],
                    "WorkingDirectory": ""
                }
            },
            "Network": { "Type": "None" },
            "Outputs": [ { "Name": "outputs", "StorageSource": "IPFS", "Path": "/outputs" } ],
            "PublisherSpec": { "Type": "ipfs" },
            "Resources": { "GPU": "1", "Memory": "8000MB" },
            "Timeout": 1800,
            "Wasm": { "EntryModule": {} }
        }
    }
}`

test('the EngineSpec form with a null entrypoint and trailing commas from optional entries', t => {
  const { spec } = renderModule(ENGINE_SPEC_STYLE, { Prompt: 'a lily pad', Steps: '30' })
  t.is(spec.image, 'example.org/diffusion:v2@sha256:1111111111111111111111111111111111111111111111111111111111111111')
  t.deepEqual(spec.entrypoint, [])
  t.deepEqual(spec.env, { PROMPT: 'a lily pad', STEPS: '30' })
  t.deepEqual(spec.resources, { cpu: 2000, ramMb: 8000, diskMb: 1024, gpus: 1, gpuVramMb: 12000, gpuModel: '', cudaVersion: 0, allGpus: false })
  t.deepEqual(renderModule(ENGINE_SPEC_STYLE, {}).spec.env, {})
})

// The oldest modules: a bare Bacalhau job (no machine/job wrapper), lower-case inputs/outputs with "path",
// an IPFS input by CID.
const BARE_JOB_STYLE = `{
    "APIVersion": "V1beta1",
    "Spec": {
        "Engine": "Docker",
        "Verifier": "Noop",
        "PublisherSpec": { "Type": "Estuary" },
        "Docker": {
            "Image": "example.org/sql:0.1",
            "Entrypoint": ["./sql", "-s", {{ .Query }}],
        },
        "Resources": { "GPU": "" },
        "Network": { "Type": "None" },
        "Timeout": 600,
        "inputs": [ { "StorageSource": "IPFS", "Name": "inputs", "CID": {{ .InputsCID }}, "path": "/inputs" } ],
        "outputs": [ { "StorageSource": "IPFS", "Name": "outputs", "path": "/outputs" } ],
    },
}`

test('a bare V1beta1 job with lower-case inputs and outputs', t => {
  const { spec } = renderModule(BARE_JOB_STYLE, { Query: 'select 42', InputsCID: 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi' })
  t.deepEqual(spec.entrypoint, ['./sql', '-s', 'select 42'])
  t.deepEqual(spec.outputs, [{ name: 'outputs', path: '/outputs' }])
  t.deepEqual(spec.inputSources, [{ source: 'ipfs', name: 'inputs', cid: 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi', path: '/inputs' }])
  t.is(spec.timeoutSec, 600)
  t.deepEqual(spec.resources, { cpu: 1000, ramMb: 512, diskMb: 1024, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0, allGpus: false })
})

test('trailing commas are tolerated only outside strings', t => {
  const { spec } = renderModule('{ "job": { "Spec": { "Docker": { "Image": "x", "Entrypoint": ["a,]", "b",], }, }, }, }', {})
  t.deepEqual(spec.entrypoint, ['a,]', 'b'])
})

const bad: Array<[string, unknown, string, RegExp]> = [
  ['not JSON', '{ "job": ', '(document)', /not valid JSON/],
  ['no job', { machine: {} }, 'job', /expected an object/],
  ['neither form', { job: { Foo: 1 } }, 'job', /V1beta1|v1/],
  ['wasm engine', { job: { Spec: { Engine: 'Wasm', Docker: { Image: 'x' } } } }, 'job.Spec.Engine', /Docker engine/],
  ['bare wasm job', { APIVersion: 'V1beta1', Spec: { Engine: 'Wasm', Wasm: {} } }, 'job.Spec.Engine', /Docker engine/],
  ['EngineSpec of another type', { job: { Spec: { Docker: {}, EngineSpec: { Type: 'wasm', Params: {} } } } }, 'job.Spec.EngineSpec.Type', /docker engine/],
  ['EngineSpec without image', { job: { Spec: { Docker: {}, EngineSpec: { Type: 'docker', Params: { Entrypoint: null } } } } }, 'job.Spec.EngineSpec.Params.Image', /expected a string/],
  ['input without a path', { job: { Spec: { Docker: { Image: 'x' }, inputs: [{ CID: 'bafy' }] } } }, 'job.Spec.inputs[0].Path', /expected a string/],
  ['entrypoint not a list', { job: { Spec: { Engine: 'Docker', Docker: { Image: 'x', Entrypoint: 'sh -c' } } } }, 'job.Spec.Docker.Entrypoint', /array of strings/],
  ['entrypoint item not a string', { job: { Spec: { Engine: 'Docker', Docker: { Image: 'x', Entrypoint: ['a', 1] } } } }, 'job.Spec.Docker.Entrypoint[1]', /string/],
  ['empty image', { job: { Spec: { Engine: 'Docker', Docker: { Image: ' ' } } } }, 'job.Spec.Docker.Image', /empty/],
  ['bad env', { job: { Spec: { Engine: 'Docker', Docker: { Image: 'x', EnvironmentVariables: ['NOEQUALS'] } } } }, 'job.Spec.Docker.EnvironmentVariables[0]', /NAME=value/],
  ['bad memory', { job: { Spec: { Engine: 'Docker', Docker: { Image: 'x' }, Resources: { Memory: 'lots' } } } }, 'job.Spec.Resources.Memory', /size/],
  ['bad network', { job: { Spec: { Engine: 'Docker', Docker: { Image: 'x' }, Network: { Type: 'Mesh' } } } }, 'job.Spec.Network.Type', /unknown network type/],
  ['relative output', { job: { Spec: { Engine: 'Docker', Docker: { Image: 'x' }, Outputs: [{ Name: 'o', Path: 'out' }] } } }, 'job.Spec.Outputs[0].Path', /absolute/],
  ['negative cpu', { machine: { cpu: -1 }, job: { Spec: { Engine: 'Docker', Docker: { Image: 'x' } } } }, 'machine.cpu', /non-negative integer/],
  ['two tasks', { job: { Job: { Type: 'batch', Tasks: [{}, {}] } } }, 'job.Job.Tasks', /exactly one task/],
  ['v1 non-docker', { job: { Job: { Tasks: [{ Engine: { Type: 'wasm', Params: {} } }] } } }, 'job.Job.Tasks[0].Engine.Type', /docker/],
  ['v1 service job', { job: { Job: { Type: 'service', Tasks: [{}] } } }, 'job.Job.Type', /batch/],
  ['bad timeout', { job: { Spec: { Engine: 'Docker', Docker: { Image: 'x' }, Timeout: 'soon' } } }, 'job.Spec.Timeout', /seconds/]
]
for (const [name, doc, field, re] of bad) {
  test(`ModuleSpecError names the field: ${name}`, t => {
    const err = t.throws(() => parseModuleSpec(typeof doc === 'string' ? doc : JSON.stringify(doc)))
    t.is(err.name, 'ModuleSpecError')
    t.is((err as unknown as { field: string }).field, field)
    t.regex(err.message, re)
  })
}
