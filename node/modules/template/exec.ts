// Evaluator for parsed Go text/template trees over JSON-like data, with Go's truthiness, comparison and
// missing-key rules (a missing map key is "no value": falsy, printed as <no value>, as Lilypad's default).
import { TemplateExecError, type Position } from './errors.ts'
import { formatValue, goType, isInt, sprint, sprintf, sprintln } from './fmt.ts'
import type { Arg, Command, Node, Pipeline } from './parse.ts'

export type TemplateFunc = (...args: unknown[]) => unknown

/** Builtins whose arguments are evaluated lazily (Go 1.18+ short-circuits and/or). */
const LAZY = new Set(['and', 'or'])

export function truth (v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false
  if (Array.isArray(v)) return v.length > 0
  if (typeof v === 'object') return Object.keys(v).length > 0
  return true
}

class BreakSignal { }
class ContinueSignal { }

interface Scope { vars: Map<string, unknown> }

export function execute (nodes: Node[], data: unknown, funcs: ReadonlyMap<string, TemplateFunc>): string {
  const st = new State(funcs, data)
  st.walkList(nodes, data)
  return st.out.join('')
}

class State {
  out: string[] = []
  private readonly funcs: ReadonlyMap<string, TemplateFunc>
  private readonly scopes: Scope[] = []
  constructor (funcs: ReadonlyMap<string, TemplateFunc>, root: unknown) {
    this.funcs = funcs
    this.scopes.push({ vars: new Map([['$', root]]) })
  }

  private lookup (name: string, pos: Position): unknown {
    for (let i = this.scopes.length - 1; i >= 0; i--) if (this.scopes[i].vars.has(name)) return this.scopes[i].vars.get(name)
    throw new TemplateExecError(`undefined variable: ${name}`, pos)
  }

  private assign (name: string, v: unknown, pos: Position): void {
    for (let i = this.scopes.length - 1; i >= 0; i--) if (this.scopes[i].vars.has(name)) { this.scopes[i].vars.set(name, v); return }
    throw new TemplateExecError(`undefined variable: ${name}`, pos)
  }

  private withScope<T> (fn: () => T): T {
    this.scopes.push({ vars: new Map() })
    try { return fn() } finally { this.scopes.pop() }
  }

  walkList (nodes: Node[], dot: unknown): void {
    for (const n of nodes) this.walk(n, dot)
  }

  private walk (n: Node, dot: unknown): void {
    switch (n.kind) {
      case 'text': this.out.push(n.text); return
      case 'action': {
        const v = this.evalPipeline(n.pipe, dot)
        if (n.pipe.decl.length === 0) this.out.push(printable(v, n.pos))
        return
      }
      case 'if': case 'with':
        this.withScope(() => {
          const v = this.evalPipeline(n.pipe, dot)
          if (truth(v)) this.walkList(n.list, n.kind === 'with' ? v : dot)
          else if (n.elseList !== undefined) this.walkList(n.elseList, dot)
        })
        return
      case 'range': this.withScope(() => { this.walkRange(n, dot) }); return
      case 'break': throw new BreakSignal()
      case 'continue': throw new ContinueSignal()
    }
  }

  private walkRange (n: Extract<Node, { kind: 'range' }>, dot: unknown): void {
    // The range pipeline's declarations receive the index/key and element, not the pipeline value.
    const v = this.evalPipeline({ ...n.pipe, decl: [] }, dot)
    let entries: Array<[unknown, unknown]>
    if (v === undefined || v === null) entries = []
    else if (Array.isArray(v)) entries = v.map((x, i) => [i, x])
    else if (typeof v === 'string') throw new TemplateExecError(`range can't iterate over ${v}`, n.pos)
    else if (isInt(v)) entries = Array.from({ length: Math.max(0, v) }, (_, i) => [i, i])
    else if (typeof v === 'object') entries = Object.keys(v).sort(goKeyOrder).map(k => [k, (v as Record<string, unknown>)[k]])
    else throw new TemplateExecError(`range can't iterate over ${formatValue(v)}`, n.pos)
    if (entries.length === 0) { if (n.elseList !== undefined) this.walkList(n.elseList, dot); return }
    const [d1, d2] = n.pipe.decl
    for (const [k, x] of entries) {
      try {
        this.withScope(() => {
          const scope = this.scopes[this.scopes.length - 1]
          if (d2 !== undefined) { set(d1, k); set(d2, x) } else if (d1 !== undefined) set(d1, isInt(v) ? k : x)
          function set (name: string, val: unknown): void {
            if (n.pipe.isAssign) self.assign(name, val, n.pos); else scope.vars.set(name, val)
          }
          const self = this
          this.walkList(n.list, x)
        })
      } catch (e) {
        if (e instanceof BreakSignal) break
        if (e instanceof ContinueSignal) continue
        throw e
      }
    }
  }

  private evalPipeline (p: Pipeline, dot: unknown): unknown {
    let v: unknown
    let has = false
    for (const cmd of p.cmds) { v = this.evalCommand(cmd, dot, has, v); has = true }
    for (const name of p.decl) {
      if (p.isAssign) this.assign(name, v, p.pos)
      else this.scopes[this.scopes.length - 1].vars.set(name, v)
    }
    return v
  }

  private evalCommand (cmd: Command, dot: unknown, hasFinal: boolean, final: unknown): unknown {
    const first = cmd.args[0]
    if (first.kind === 'func') return this.callFunc(first.name, first.pos, cmd.args.slice(1), dot, hasFinal, final)
    if (cmd.args.length > 1 || hasFinal) {
      if (first.kind === 'field' || first.kind === 'variable' || first.kind === 'pipe') {
        const name = first.kind === 'variable' && first.names.length === 0 ? first.name : '.' + (first.names.at(-1) ?? '')
        throw new TemplateExecError(`can't give argument to non-function ${name}`, first.pos)
      }
      throw new TemplateExecError(`can't give argument to non-function ${describeArg(first)}`, first.pos)
    }
    return this.evalArg(first, dot)
  }

  private evalArg (a: Arg, dot: unknown): unknown {
    switch (a.kind) {
      case 'dot': return dot
      case 'nil': return null
      case 'literal': return a.value
      case 'field': return this.fieldChain(dot, a.names, a.pos)
      case 'variable': return this.fieldChain(this.lookup(a.name, a.pos), a.names, a.pos)
      case 'pipe': return this.fieldChain(this.withScope(() => this.evalPipeline(a.pipe, dot)), a.names, a.pos)
      case 'func': return this.callFunc(a.name, a.pos, [], dot, false, undefined)
    }
  }

  private fieldChain (v: unknown, names: string[], pos: Position): unknown {
    for (const name of names) {
      if (v === undefined || v === null) return undefined
      if (typeof v !== 'object' || Array.isArray(v)) throw new TemplateExecError(`can't evaluate field ${name} in type ${goType(v)}`, pos)
      v = Object.hasOwn(v, name) ? (v as Record<string, unknown>)[name] : undefined
    }
    return v
  }

  private callFunc (name: string, pos: Position, args: Arg[], dot: unknown, hasFinal: boolean, final: unknown): unknown {
    const fn = this.funcs.get(name)
    if (fn === undefined) throw new TemplateExecError(`function "${name}" not defined`, pos)
    if (LAZY.has(name)) {
      const thunks: Array<() => unknown> = args.map(a => () => this.evalArg(a, dot))
      if (hasFinal) thunks.push(() => final)
      if (thunks.length === 0) throw new TemplateExecError(`wrong number of args for ${name}: want at least 1 got 0`, pos)
      let v: unknown
      for (const th of thunks) {
        v = th()
        if (name === 'and' ? !truth(v) : truth(v)) return v
      }
      return v
    }
    const vals = args.map(a => this.evalArg(a, dot))
    if (hasFinal) vals.push(final)
    try {
      return fn(...vals)
    } catch (e) {
      if ((e as Error)?.name === 'TemplateExecError') throw e
      throw new TemplateExecError(`error calling ${name}: ${(e as Error).message}`, pos, e)
    }
  }
}

function describeArg (a: Arg): string {
  if (a.kind === 'literal') return typeof a.value === 'string' ? JSON.stringify(a.value) : String(a.value)
  return a.kind
}

function printable (v: unknown, pos: Position): string {
  if (typeof v === 'function') throw new TemplateExecError("can't print function value", pos)
  return formatValue(v)
}

/** Go sorts map keys by value: numbers numerically, strings bytewise. */
function goKeyOrder (a: string, b: string): number {
  const ba = Buffer.from(a); const bb = Buffer.from(b)
  return Buffer.compare(ba, bb)
}

// ---- builtins -------------------------------------------------------------------------------------------

type Kind = 'bool' | 'int' | 'float' | 'string' | 'nil' | 'other'
function basicKind (v: unknown): Kind {
  if (typeof v === 'boolean') return 'bool'
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float'
  if (typeof v === 'string') return 'string'
  if (v === null || v === undefined) return 'nil'
  return 'other'
}

function eqPair (a: unknown, b: unknown): boolean {
  const ka = basicKind(a); const kb = basicKind(b)
  const num = (k: Kind): boolean => k === 'int' || k === 'float'
  if (num(ka) && num(kb)) return a === b
  // Go (1.18+) compares a missing value or nil with anything without error: equal only to another nil.
  if (ka === 'nil' || kb === 'nil') return ka === kb
  if (ka !== kb) throw new Error('incompatible types for comparison')
  if (ka === 'other') throw new Error('non-comparable type')
  return a === b
}

function ltPair (a: unknown, b: unknown): boolean {
  const ka = basicKind(a); const kb = basicKind(b)
  const num = (k: Kind): boolean => k === 'int' || k === 'float'
  if (num(ka) && num(kb)) return (a as number) < (b as number)
  if (ka !== kb) throw new Error('incompatible types for comparison')
  if (ka === 'string') return Buffer.compare(Buffer.from(a as string), Buffer.from(b as string)) < 0
  throw new Error(`invalid type for comparison`)
}

function goLen (v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v)
  if (Array.isArray(v)) return v.length
  if (v !== null && typeof v === 'object') return Object.keys(v).length
  throw new Error(`len of type ${goType(v)}`)
}

function goIndex (v: unknown, ...keys: unknown[]): unknown {
  for (const k of keys) {
    if (v === undefined || v === null) throw new Error('index of untyped nil')
    if (Array.isArray(v) || typeof v === 'string') {
      if (!isInt(k)) throw new Error(`cannot index slice/array with type ${goType(k)}`)
      const len = typeof v === 'string' ? Buffer.byteLength(v) : v.length
      if (k < 0 || k >= len) throw new Error(`index out of range: ${k}`)
      v = typeof v === 'string' ? Buffer.from(v)[k] : v[k]
    } else if (typeof v === 'object') {
      if (typeof k !== 'string') throw new Error(`value has type ${goType(k)}; should be string`)
      const o = v as Record<string, unknown>
      // A missing key yields the element type's zero value: "" for Lilypad's map[string]string inputs.
      v = Object.hasOwn(o, k) ? o[k] : (Object.values(o).every(x => typeof x === 'string') ? '' : null)
    } else throw new Error(`can't index item of type ${goType(v)}`)
  }
  return v
}

function goSlice (v: unknown, ...idx: unknown[]): unknown {
  if (typeof v !== 'string' && !Array.isArray(v)) throw new Error(`can't slice item of type ${goType(v)}`)
  if (idx.length > 3 || (typeof v === 'string' && idx.length > 2)) throw new Error('too many slice indexes')
  const len = typeof v === 'string' ? Buffer.byteLength(v) : v.length
  const [i = 0, j = len] = idx as number[]
  for (const x of idx) if (!isInt(x)) throw new Error('cannot index slice with non-integer')
  if (i < 0 || j < i || j > len) throw new Error(`index out of range: ${i}:${j}`)
  return typeof v === 'string' ? Buffer.from(v).subarray(i, j).toString() : v.slice(i, j)
}

function jsEscape (s: string): string {
  let out = ''
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0
    switch (ch) {
      case '\\': out += '\\\\'; continue
      case "'": out += "\\'"; continue
      case '"': out += '\\"'; continue
      case '<': out += '\\u003C'; continue
      case '>': out += '\\u003E'; continue
      case '&': out += '\\u0026'; continue
      case '=': out += '\\u003D'; continue
    }
    if (cp < 0x20) out += '\\u00' + cp.toString(16).toUpperCase().padStart(2, '0')
    else if (cp >= 0x80 && !/[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]/u.test(ch)) out += '\\u' + cp.toString(16).toUpperCase().padStart(4, '0')
    else out += ch
  }
  return out
}

function htmlEscape (s: string): string {
  return s.replace(/[\0"'&<>]/g, c => ({ '\0': '\uFFFD', '"': '&#34;', "'": '&#39;', '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c] ?? c)
}

function queryEscape (s: string): string {
  let out = ''
  for (const b of Buffer.from(s)) {
    const c = String.fromCharCode(b)
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c
    else if (c === ' ') out += '+'
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0')
  }
  return out
}

/** Text of a Sprint over the arguments, as Go's escapers do for several arguments. */
const evalArgs = (args: unknown[]): string => args.length === 1 && typeof args[0] === 'string' ? args[0] : sprint(args)

export const BUILTINS: ReadonlyMap<string, TemplateFunc> = new Map<string, TemplateFunc>([
  ['and', () => undefined], // evaluated lazily by the executor
  ['or', () => undefined],
  ['not', (...a) => { if (a.length !== 1) throw new Error(`wrong number of args for not: want 1 got ${a.length}`); return !truth(a[0]) }],
  ['eq', (a, ...bs) => {
    if (bs.length === 0) throw new Error('missing argument for comparison')
    return bs.some(b => eqPair(a, b))
  }],
  ['ne', (a, b) => !eqPair(a, b)],
  ['lt', (a, b) => ltPair(a, b)],
  ['le', (a, b) => ltPair(a, b) || eqPair(a, b)],
  ['gt', (a, b) => !ltPair(a, b) && !eqPair(a, b)],
  ['ge', (a, b) => !ltPair(a, b)],
  ['len', (v) => goLen(v)],
  ['index', (v, ...k) => goIndex(v, ...k)],
  ['slice', (v, ...i) => goSlice(v, ...i)],
  ['print', (...a) => sprint(a)],
  ['printf', (f, ...a) => { if (typeof f !== 'string') throw new Error('printf format must be a string'); return sprintf(f, a) }],
  ['println', (...a) => sprintln(a)],
  ['js', (...a) => jsEscape(evalArgs(a))],
  ['html', (...a) => htmlEscape(evalArgs(a))],
  ['urlquery', (...a) => queryEscape(evalArgs(a))],
  ['call', (fn, ...a) => {
    if (typeof fn !== 'function') throw new Error(`non-function of type ${goType(fn)}`)
    return (fn as TemplateFunc)(...a)
  }]
])
