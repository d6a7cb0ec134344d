// templateInputs (from declaredInputs) on the built-in modules and on the guard forms templates use.
import test from 'ava'
import { readFileSync } from 'node:fs'
import { templateInputs } from './declared-inputs.ts'

const builtin = (dir: string): string => readFileSync(new URL(`../../modules/${dir}/lilypad_module.json.tmpl`, import.meta.url), 'utf8')

test('the built-in modules: every input is optional behind an if/with', t => {
  t.deepEqual(templateInputs(builtin('cowsay')), { known: ['Message'], required: [] })
  t.deepEqual(templateInputs(builtin('primes')), { known: ['N'], required: [] })
  t.deepEqual(templateInputs(builtin('wordcount')), { known: ['Checksum', 'Data', 'Text', 'URL'], required: [] })
})

test('an unguarded input is required; guards, $ and nested pipes are followed', t => {
  t.deepEqual(templateInputs('{"cmd": [{{ .Prompt }}, {{ if .Seed }}{{ .Seed }}{{ end }}]}'), { known: ['Prompt', 'Seed'], required: ['Prompt'] })
  t.deepEqual(templateInputs('{{ if and .A .B }}{{ .A }}{{ .B }}{{ else }}{{ .C }}{{ end }}'), { known: ['A', 'B', 'C'], required: ['C'] })
  t.deepEqual(templateInputs('{{ with .X }}{{ . }}{{ $.Y }}{{ end }}'), { known: ['X', 'Y'], required: ['Y'] })
  t.deepEqual(templateInputs('{{ subst "%s-%s" .A (js .B) }}'), { known: ['A', 'B'], required: ['A', 'B'] })
  t.deepEqual(templateInputs('no inputs at all'), { known: [], required: [] })
})
