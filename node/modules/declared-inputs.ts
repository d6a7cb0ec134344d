// The inputs a module template reads, found by walking its parse tree: Lilypad modules declare no inputs, so
// the template is the declaration. An input is optional when every read of it is guarded ({{ if .X }},
// {{ with .X }}, or .X}}) and its default is what the template renders without it: the else branch of
// `{{ if .X }}…{{ else }}…{{ end }}`, read back as a value where the two branches differ only by the input,
// or the fallback of `or .X "default"`.
import { Template, encodeInputs, type Arg, type Node, type Pipeline, type Position } from './template/index.ts'

export interface DeclaredInput {
  name: string
  /** Read somewhere without a guard or default: rendering without it prints "<no value>" there. */
  required: boolean
  /** The value used when the input is absent, where the template has one. */
  default?: string
  /** How the default was found: the input's value read back from an else branch, or the branch's raw text. */
  defaultKind?: 'value' | 'rendered'
  /** Every place in the template that reads it. */
  uses: Position[]
}

const MARK = 'LilypadInputMarker7f3a'
const DEFAULT_RENDER_LIMITS = { maxSteps: 10_000, maxOutputBytes: 64 * 1024, maxTimeMs: 200 }

interface Ref { name: string, pos: Position }

/** The root inputs a pipeline reads (.X at the root dot, $.X, index . "X"), nested pipelines included. */
function refsOf (pipe: Pipeline, rootDot: boolean): { refs: Ref[], orDefaults: Array<{ name: string, value: string }> } {
  const refs: Ref[] = []
  const orDefaults: Array<{ name: string, value: string }> = []
  const pipes: Pipeline[] = [pipe]
  const inputOf = (a: Arg): Ref | undefined => {
    if (a.kind === 'field' && rootDot) return { name: a.names[0], pos: a.pos }
    if (a.kind === 'variable' && a.name === '$' && a.names.length > 0) return { name: a.names[0], pos: a.pos }
    return undefined
  }
  while (pipes.length > 0) {
    const p = pipes.pop() as Pipeline
    for (const cmd of p.cmds) {
      const [first, ...rest] = cmd.args
      if (first.kind === 'func' && first.name === 'index' && rest.length >= 2 && ((rest[0].kind === 'dot' && rootDot) || (rest[0].kind === 'variable' && rest[0].name === '$' && rest[0].names.length === 0)) && rest[1].kind === 'literal' && typeof rest[1].value === 'string') {
        refs.push({ name: rest[1].value, pos: rest[1].pos })
      }
      if (first.kind === 'func' && first.name === 'or' && rest.length >= 2) {
        const r = inputOf(rest[0])
        const last = rest[rest.length - 1]
        if (r !== undefined && last.kind === 'literal' && typeof last.value === 'string') orDefaults.push({ name: r.name, value: last.value })
      }
      for (const a of cmd.args) {
        const r = inputOf(a)
        if (r !== undefined) refs.push(r)
        if (a.kind === 'pipe') pipes.push(a.pipe)
      }
    }
  }
  return { refs, orDefaults }
}

/** The single input an {{ if }} condition tests, when it is just `.X` (or `$.X`). */
function testedInput (pipe: Pipeline, rootDot: boolean): string | undefined {
  if (pipe.decl.length > 0 || pipe.cmds.length !== 1 || pipe.cmds[0].args.length !== 1) return undefined
  const a = pipe.cmds[0].args[0]
  if (a.kind === 'field' && rootDot && a.names.length === 1) return a.names[0]
  if (a.kind === 'variable' && a.name === '$' && a.names.length === 1) return a.names[0]
  return undefined
}

/** The default an if/else gives `name`: its value when the branches differ only by the input, else the text. */
function defaultOf (tpl: Template, name: string, list: Node[], elseList: Node[]): { value: string, kind: 'value' | 'rendered' } | undefined {
  let withInput: string
  let without: string
  try {
    withInput = tpl.renderNodes(list, encodeInputs({ [name]: MARK }), DEFAULT_RENDER_LIMITS)
    without = tpl.renderNodes(elseList, {}, DEFAULT_RENDER_LIMITS)
  } catch { return undefined }
  const at = withInput.indexOf(MARK)
  if (at !== -1 && withInput.indexOf(MARK, at + 1) === -1) {
    const pre = withInput.slice(0, at)
    const post = withInput.slice(at + MARK.length)
    if (without.length >= pre.length + post.length && without.startsWith(pre) && without.endsWith(post)) {
      const raw = without.slice(pre.length, without.length - post.length)
      // The value sat inside a JSON string (quoted by the encoding, or by the template around subst/js).
      try { return { value: JSON.parse(`"${raw}"`) as string, kind: 'value' } } catch { return { value: raw, kind: 'value' } }
    }
  }
  const text = without.trim()
  return text === '' ? undefined : { value: text, kind: 'rendered' }
}

interface Frame { nodes: Node[], i: number, rootDot: boolean, guards: ReadonlySet<string> }

/** The inputs a template reads, in the order of their first use. */
export function declaredInputs (template: string | Template): DeclaredInput[] {
  const tpl = typeof template === 'string' ? Template.parse(template) : template
  const found = new Map<string, DeclaredInput>()
  const entry = (name: string): DeclaredInput => {
    let d = found.get(name)
    if (d === undefined) { d = { name, required: false, uses: [] }; found.set(name, d) }
    return d
  }
  const use = (r: Ref, guarded: boolean): void => {
    const d = entry(r.name)
    d.uses.push(r.pos)
    if (!guarded) d.required = true
  }
  const setDefault = (name: string, value: string, kind: 'value' | 'rendered'): void => {
    const d = entry(name)
    if (d.default === undefined) { d.default = value; d.defaultKind = kind }
  }
  // Iterative: a template may nest controls thousands deep.
  const stack: Frame[] = [{ nodes: tpl.tree, i: 0, rootDot: true, guards: new Set() }]
  while (stack.length > 0) {
    const f = stack[stack.length - 1]
    if (f.i >= f.nodes.length) { stack.pop(); continue }
    const n = f.nodes[f.i++]
    switch (n.kind) {
      case 'action': {
        const { refs, orDefaults } = refsOf(n.pipe, f.rootDot)
        for (const o of orDefaults) setDefault(o.name, o.value, 'value')
        for (const r of refs) use(r, f.guards.has(r.name) || orDefaults.some(o => o.name === r.name))
        break
      }
      case 'if': case 'with': case 'range': {
        // Reads in a condition decide, they do not need a value.
        const { refs, orDefaults } = refsOf(n.pipe, f.rootDot)
        for (const o of orDefaults) setDefault(o.name, o.value, 'value')
        for (const r of refs) use(r, n.kind !== 'range' || f.guards.has(r.name))
        const tested = testedInput(n.pipe, f.rootDot)
        if (n.kind === 'if' && tested !== undefined && n.elseList !== undefined) {
          const d = defaultOf(tpl, tested, n.list, n.elseList)
          if (d !== undefined) setDefault(tested, d.value, d.kind)
        }
        const guards = n.kind === 'range' ? f.guards : new Set([...f.guards, ...refs.map(r => r.name)])
        if (n.elseList !== undefined) stack.push({ nodes: n.elseList, i: 0, rootDot: f.rootDot, guards: f.guards })
        stack.push({ nodes: n.list, i: 0, rootDot: n.kind === 'if' ? f.rootDot : false, guards })
        break
      }
      default: break
    }
  }
  return [...found.values()]
}

/** The names a template reads (`known`) and those it needs (`required`): what a bridge checks a request against. */
export function templateInputs (template: string | Template): { known: string[], required: string[] } {
  const inputs = declaredInputs(template)
  return { known: inputs.map(i => i.name).sort(), required: inputs.filter(i => i.required).map(i => i.name).sort() }
}
