// Go text/template semantics, feature by feature. Expected outputs are what Go's text/template prints for
// the same template and data (data here is JSON-like, as Lilypad's map[string]string inputs are).
import test from 'ava'
import { Template, renderLilypadTemplate, sprintf, subst } from './index.ts'

const render = (src: string, data: unknown = {}): string => Template.parse(src).execute(data)

const cases: Array<[string, string, unknown, string]> = [
  // text, actions, trim markers, comments
  ['plain text', 'hello', {}, 'hello'],
  ['field', '{{.A}}', { A: 'x' }, 'x'],
  ['nested field', '{{ .A.B.C }}', { A: { B: { C: 7 } } }, '7'],
  ['trim both sides', 'a  \n {{- "b" -}} \n\t c', {}, 'abc'],
  ['trim left only', 'a   {{- "b" }}   c', {}, 'ab   c'],
  ['trim right only', 'a   {{ "b" -}}   c', {}, 'a   bc'],
  ['negative number is not a trim', '{{-3}}', {}, '-3'],
  ['comment', 'a{{/* a comment */}}b', {}, 'ab'],
  ['trimmed comment', 'a \n {{- /* c */ -}} \n b', {}, 'ab'],
  ['multi-line comment', 'a{{/* one\ntwo */}}b', {}, 'ab'],
  // literals
  ['string escapes', '{{ "a\\tb\\n\\"q\\"\\u00e9" }}', {}, 'a\tb\n"q"é'],
  ['raw string', '{{ `a\\nb` }}', {}, 'a\\nb'],
  ['numbers', '{{ 42 }} {{ -7 }} {{ 0x1F }} {{ 1.5 }} {{ 1_000 }}', {}, '42 -7 31 1.5 1000'],
  ['char constant prints its code', "{{ 'a' }}", {}, '97'],
  ['bool and nil', '{{ true }} {{ false }} {{ print nil }}', {}, 'true false <nil>'],
  // missing keys (Lilypad's default option)
  ['missing key prints <no value>', '{{ .Nope }}', {}, '<no value>'],
  ['missing nested key', '{{ .A.B }}', {}, '<no value>'],
  // if / else if / else
  ['if true', '{{ if .A }}yes{{ end }}', { A: 'x' }, 'yes'],
  ['if empty string is false', '{{ if .A }}yes{{ else }}no{{ end }}', { A: '' }, 'no'],
  ['if zero is false', '{{ if 0 }}yes{{ else }}no{{ end }}', {}, 'no'],
  ['if empty list is false', '{{ if .L }}yes{{ else }}no{{ end }}', { L: [] }, 'no'],
  ['if empty map is false', '{{ if .M }}yes{{ else }}no{{ end }}', { M: {} }, 'no'],
  ['if missing is false', '{{ if .Nope }}yes{{ else }}no{{ end }}', {}, 'no'],
  ['else if chain', '{{ if .A }}a{{ else if .B }}b{{ else if .C }}c{{ else }}d{{ end }}', { C: 1 }, 'c'],
  ['else if falls through', '{{ if .A }}a{{ else if .B }}b{{ else }}d{{ end }}', {}, 'd'],
  // with
  ['with sets dot', '{{ with .A }}{{ .B }}{{ end }}', { A: { B: 'bee' } }, 'bee'],
  ['with else', '{{ with .A }}x{{ else }}none{{ end }}', { A: '' }, 'none'],
  ['else with', '{{ with .A }}a{{ else with .B }}{{ . }}{{ end }}', { B: 'bb' }, 'bb'],
  // range
  ['range list', '{{ range .L }}[{{ . }}]{{ end }}', { L: ['a', 'b'] }, '[a][b]'],
  ['range index and value', '{{ range $i, $v := .L }}{{ $i }}:{{ $v }} {{ end }}', { L: ['x', 'y'] }, '0:x 1:y '],
  ['range map sorted by key', '{{ range $k, $v := .M }}{{ $k }}={{ $v }};{{ end }}', { M: { b: 2, a: 1, C: 3 } }, 'C=3;a=1;b=2;'],
  ['range else on empty', '{{ range .L }}x{{ else }}empty{{ end }}', { L: [] }, 'empty'],
  ['range else on missing', '{{ range .Nope }}x{{ else }}empty{{ end }}', {}, 'empty'],
  ['range break', '{{ range .L }}{{ if eq . 3 }}{{ break }}{{ end }}{{ . }}{{ end }}', { L: [1, 2, 3, 4] }, '12'],
  ['range continue', '{{ range .L }}{{ if eq . 2 }}{{ continue }}{{ end }}{{ . }}{{ end }}', { L: [1, 2, 3] }, '13'],
  ['range over integer', '{{ range 3 }}{{ . }}{{ end }}', {}, '012'],
  ['range dot inside', '{{ range .L }}{{ .N }}{{ end }}', { L: [{ N: 1 }, { N: 2 }] }, '12'],
  ['$ is the root inside range', '{{ range .L }}{{ $.P }}{{ . }} {{ end }}', { P: '>', L: [1, 2] }, '>1 >2 '],
  // variables
  ['declare and use', '{{ $x := "v" }}{{ $x }}', {}, 'v'],
  ['assign', '{{ $x := 1 }}{{ $x = 2 }}{{ $x }}', {}, '2'],
  ['assign inside range is seen after', '{{ $n := 0 }}{{ range .L }}{{ $n = . }}{{ end }}{{ $n }}', { L: [1, 5] }, '5'],
  ['variable field access', '{{ $a := .A }}{{ $a.B }}', { A: { B: 'x' } }, 'x'],
  ['declaration prints nothing', 'a{{ $x := 5 }}b', {}, 'ab'],
  // pipelines and parentheses
  ['pipeline passes last argument', '{{ "x" | printf "%s-%s" "a" }}', {}, 'a-x'],
  ['pipeline chain', '{{ .A | len | printf "%03d" }}', { A: 'abcd' }, '004'],
  ['parenthesised', '{{ printf "%d" (len .L) }}', { L: [1, 2, 3] }, '3'],
  ['field of parenthesised', '{{ (index .L 0).N }}', { L: [{ N: 'n0' }] }, 'n0'],
  // logic and comparison
  ['and returns first falsy', '{{ and 1 0 2 }}', {}, '0'],
  ['and returns last if all truthy', '{{ and 1 "x" }}', {}, 'x'],
  ['or returns first truthy', '{{ or 0 "" "y" }}', {}, 'y'],
  ['and short-circuits', '{{ and .Nope (index .Nope 1) }}', {}, '<no value>'],
  ['or defaults', '{{ or .Nope "default" }}', {}, 'default'],
  ['not', '{{ not 0 }} {{ not "x" }}', {}, 'true false'],
  ['eq strings', '{{ eq .A "x" }} {{ eq .A "y" }}', { A: 'x' }, 'true false'],
  ['eq any of several', '{{ eq 3 1 2 3 }}', {}, 'true'],
  ['eq int and float', '{{ eq 2 2.0 }}', {}, 'true'],
  ['ne', '{{ ne 1 2 }}', {}, 'true'],
  ['eq with a missing value is false, not an error', '{{ eq .Nope "x" }} {{ ne .Nope "x" }} {{ eq .Nope nil }}', {}, 'false true true'],
  ['lt le gt ge', '{{ lt 1 2 }} {{ le 2 2 }} {{ gt 1 2 }} {{ ge 3 2 }}', {}, 'true true false true'],
  ['string ordering', '{{ lt "a" "b" }} {{ gt "B" "a" }}', {}, 'true false'],
  // builtins
  ['len of string counts bytes', '{{ len "héllo" }}', {}, '6'],
  ['len of list and map', '{{ len .L }} {{ len .M }}', { L: [1, 2], M: { a: 1 } }, '2 1'],
  ['index list and map', '{{ index .L 1 }} {{ index .M "k" }}', { L: ['a', 'b'], M: { k: 'v' } }, 'b v'],
  ['index nested', '{{ index .L 1 0 }}', { L: [[1], [2, 3]] }, '2'],
  ['index missing map key is the zero value', '[{{ index .M "zz" }}]', { M: { k: 'v' } }, '[]'],
  ['slice string and list', '{{ slice "hello" 1 3 }} {{ slice .L 1 }}', { L: [1, 2, 3] }, 'el [2 3]'],
  ['print spaces non-strings', '{{ print 1 2 "a" "b" 3 }}', {}, '1 2ab3'],
  ['println', '{{ println "a" 1 }}', {}, 'a 1\n'],
  ['print a list and a map', '{{ print .L }} {{ print .M }}', { L: ['a', 1], M: { y: 2, x: 1 } }, '[a 1] map[x:1 y:2]'],
  ['js escapes', '{{ js "it\'s <b>\\"q\\"</b> & a=b\\\\" }}', {}, 'it\\\'s \\u003Cb\\u003E\\"q\\"\\u003C/b\\u003E \\u0026 a\\u003Db\\\\'],
  ['js control characters', '{{ js "a\\nb\\tc" }}', {}, 'a\\u000Ab\\u0009c'],
  ['html escapes', '{{ html "<a href=\\"x\\">O\'Neil & co</a>" }}', {}, '&lt;a href=&#34;x&#34;&gt;O&#39;Neil &amp; co&lt;/a&gt;'],
  ['urlquery', '{{ urlquery "a b&c=d/é" }}', {}, 'a+b%26c%3Dd%2F%C3%A9'],
  ['call', '{{ call .F 2 3 }}', { F: (a: number, b: number) => a * b }, '6'],
  // printf verbs
  ['printf %s %d %v', '{{ printf "%s|%d|%v|%v" "s" 42 "v" 7 }}', {}, 's|42|v|7'],
  ['printf %q', '{{ printf "%q" "say \\"hi\\"\\n" }}', {}, '"say \\"hi\\"\\n"'],
  ['printf %f and precision', '{{ printf "%f|%.2f|%8.3f|%-8.1f|" 3.14159 3.14159 3.14159 2.5 }}', {}, '3.141590|3.14|   3.142|2.5     |'],
  ['printf %x %X %o %b', '{{ printf "%x %X %o %b %x" 255 255 8 5 "hi" }}', {}, 'ff FF 10 101 6869'],
  ['printf %t and %%', '{{ printf "%t %% %t" true false }}', {}, 'true % false'],
  ['printf width and flags', '{{ printf "[%5d][%-5d][%05d][%+d][%5s][%-5s]" 42 42 42 42 "ab" "ab" }}', {}, '[   42][42   ][00042][+42][   ab][ab   ]'],
  ['printf %v of float and list', '{{ printf "%v %v %v" 2.5 .L 1e21 }}', { L: [1, 'a'] }, '2.5 [1 a] 1e+21'],
  ['printf %e %g', '{{ printf "%e %g %g" 1234.5678 0.00001234 100000.0 }}', {}, '1.234568e+03 1.234e-05 100000'],
  ['printf %c %U-less %T', '{{ printf "%c %T %T %T" 65 "s" 1 true }}', {}, 'A string int bool'],
  ['printf missing argument', '{{ printf "%s %d" "a" }}', {}, 'a %!d(MISSING)'],
  ['printf extra argument', '{{ printf "%s" "a" "b" }}', {}, 'a%!(EXTRA string=b)'],
  ['printf wrong type', '{{ printf "%d" "x" }}', {}, '%!d(string=x)'],
  // Lilypad's subst over JSON-encoded strings
  ['subst', '{{ subst "%s and %s" .A .B }}', { A: '"one"', B: '"two"' }, 'one and two'],
  ['subst with escapes inside', '{{ subst "[%s]" .A }}', { A: '"a\\"b"' }, '[a"b]']
]

for (const [name, src, data, want] of cases) {
  test(`template: ${name}`, t => {
    t.is(render(src, data), want)
  })
}

test('inputs are JSON-encoded before substitution (Lilypad)', t => {
  const out = renderLilypadTemplate('["cowsay", {{ .Message }}] {{ js .Message }} {{ subst "<%s>" .Message }}', { Message: 'say "hi"\n' })
  t.is(out, '["cowsay", "say \\"hi\\"\\n"] \\"say \\\\\\"hi\\\\\\"\\\\n\\" <say "hi"\n>')
  t.deepEqual(JSON.parse(out.slice(0, out.indexOf(']') + 1)), ['cowsay', 'say "hi"\n'])
})

test('default values with if/else when an input is not given', t => {
  const src = '{{ if .Prompt }}{{ .Prompt }}{{ else }}"a default"{{ end }}'
  t.is(renderLilypadTemplate(src, {}), '"a default"')
  t.is(renderLilypadTemplate(src, { Prompt: 'mine' }), '"mine"')
  t.is(renderLilypadTemplate(src, { Prompt: '' }), '""') // "" JSON-encoded is the non-empty string `""`
})

const syntaxErrors: Array<[string, string, number, number, RegExp]> = [
  ['unclosed action', 'ok\n  {{ .A ', 2, 3, /unclosed action/],
  ['if without end', 'a\n{{ if .A }}x', 2, 4, /no \{\{end\}\}/],
  ['stray end', '{{ .A }}\n\n   {{ end }}', 3, 7, /unexpected \{\{end\}\}/],
  ['else with no if', '{{ else }}', 1, 4, /unexpected \{\{else\}\}/],
  ['unterminated string', '{{ "abc }}', 1, 4, /unterminated quoted string/],
  ['bad character', '{{ .A # }}', 1, 7, /unrecognized character/],
  ['undefined variable', 'x\n {{ $nope }}', 2, 5, /undefined variable "\$nope"/],
  ['break outside range', '{{ break }}', 1, 4, /outside \{\{range\}\}/],
  ['empty action', 'a {{ }}', 1, 6, /missing value/],
  ['unclosed paren', '{{ (len .A }}', 1, 12, /unclosed left paren/],
  ['stray right paren', '{{ .A ) }}', 1, 7, /unexpected right paren/],
  ['unclosed comment', '{{/* never closed }}', 1, 3, /unclosed comment/]
]
for (const [name, src, line, col, re] of syntaxErrors) {
  test(`syntax error names line:column: ${name}`, t => {
    const err = t.throws(() => Template.parse(src))
    t.is(err.name, 'TemplateSyntaxError')
    t.regex(err.message, re)
    t.is((err as unknown as { line: number }).line, line)
    t.is((err as unknown as { column: number }).column, col)
    t.true(err.message.endsWith(`at ${line}:${col}`))
  })
}

test('an unknown function is named with its position', t => {
  const err = t.throws(() => Template.parse('{\n  "a": 1,\n  "b": {{ foo .X }}\n}'))
  t.is(err.name, 'UnknownTemplateFunctionError')
  t.is(err.message, 'function "foo" not defined at 3:11')
  t.is((err as unknown as { functionName: string }).functionName, 'foo')
})

test('execution errors name the position', t => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['{{ index .L 5 }}', { L: [1] }, /index out of range: 5 at 1:4/],
    ['\n{{ .A.B }}', { A: 'str' }, /can't evaluate field B in type string at 2:4/],
    ['{{ lt 1 "a" }}', {}, /incompatible types for comparison at 1:4/],
    ['{{ subst "%s" .A }}', { A: 'not json' }, /subst: invalid input/],
    ['{{ "x" | .A }}', { A: 1 }, /can't give argument to non-function/]
  ]
  for (const [src, data, re] of cases) {
    const err = t.throws(() => render(src, data), undefined, src)
    t.is(err.name, 'TemplateExecError', src)
    t.regex(err.message, re, src)
  }
})

test('subst decodes JSON strings and formats like Go', t => {
  t.is(subst('%s-%s', '"a"', '"b"'), 'a-b')
  t.is(subst('%q', '"x"'), '"x"')
  t.throws(() => subst('%s', '42'), { message: /subst: invalid input/ })
})

test('sprintf corner cases', t => {
  t.is(sprintf('%5.1f|%x|%#x|%08.3f', [3.14159, -255, 255, -3.14159]), '  3.1|-ff|0xff|-003.142')
  t.is(sprintf('%s', [['a', 'b']]), '[a b]')
  t.is(sprintf('%d%%', [50]), '50%')
  t.is(sprintf('%v|%v', [null, undefined]), '<nil>|<no value>')
})
