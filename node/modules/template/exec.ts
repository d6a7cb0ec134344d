// Evaluator for parsed Go text/template trees over JSON-like data, with Go's truthiness, comparison and
// missing-key rules (a missing map key is "no value": falsy, printed as <no value>, as Lilypad's default).
// It is iterative (explicit stacks for nested controls and parenthesised pipelines, a lazy iterator for
// range) and runs under TemplateLimits: every step, byte of output and millisecond is counted.
import {
  MissingInputError, TemplateExecError, TemplateOutputLimitError, TemplateStepLimitError, TemplateTimeLimitError,
  type Position
} from './errors.ts'
import { formatValue, goType, isInt, sprint, sprintf, sprintln } from './fmt.ts'
import { CLOCK_EVERY_STEPS, type TemplateLimits } from './limits.ts'
import type { Arg, Command, Node, Pipeline } from './parse.ts'

export type TemplateFunc = (...args: unknown[]) => unknown

/** Builtins whose arguments are evaluated lazily (Go 1.18+ short-circuits and/or). */
const LAZY = new Set(['and', 'or'])

/** Functions that turn their arguments into text: a missing input passed to one ends up as junk in the output. */
const TEXT_FUNCS = new Set(['print', 'printf', 'println', 'js', 'html', 'urlquery', 'subst'])

export function truth (v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false
  if (Array.isArray(v)) return v.length > 0
  if (typeof v === 'object') return Object.keys(v).length > 0
  return true
}

/** A top-level input of the data map that was read but is not there. */
export interface MissingUse { name: string, pos: Position }

/** Where a piece of the output came from: the text or action node that printed it, from `offset` on. */
export interface Segment { offset: number, pos: Position, text?: string }

export interface ExecResult {
  output: string
  /** Missing inputs whose "no value" was printed, in output order (with the output offset). */
  printedMissing: Array<MissingUse & { offset: number }>
  /** Output offsets → template positions, ascending by offset. */
  segments: Segment[]
  steps: number
}

interface Scope { vars: Map<string, unknown> }

type Entry = [unknown, unknown]
/** Range iteration without materialising the entries: a range over 10^12 costs nothing until it steps. */
interface RangeIter { next: () => Entry | undefined, isInt: boolean }

type ControlFrame =
  | { k: 'list', nodes: Node[], i: number, dot: unknown, scopeBase: number }
  | { k: 'range', node: Extract<Node, { kind: 'range' }>, it: RangeIter, dot: unknown, scopeBase: number }

type ExprFrame =
  | { k: 'pipe', pipe: Pipeline, dot: unknown, i: number, v: unknown, has: boolean, scoped: boolean, noDecl: boolean, names?: string[], pos: Position }
  | { k: 'cmd', cmd: Command, dot: unknown, hasFinal: boolean, final: unknown, i: number, vals: unknown[], last: unknown, usedFinal: boolean, missing?: MissingUse }

export function execute (nodes: Node[], data: unknown, funcs: ReadonlyMap<string, TemplateFunc>, limits: TemplateLimits): ExecResult {
  const st = new State(funcs, data, limits)
  st.run(nodes)
  return { output: st.out.join(''), printedMissing: st.printedMissing, segments: st.segments, steps: st.steps }
}

class BreakSignal { readonly pos: Position; constructor (pos: Position) { this.pos = pos } }

class State {
  out: string[] = []
  outChars = 0
  outBytes = 0
  steps = 0
  readonly printedMissing: Array<MissingUse & { offset: number }> = []
  readonly segments: Segment[] = []
  private readonly funcs: ReadonlyMap<string, TemplateFunc>
  private readonly root: unknown
  private readonly limits: TemplateLimits
  private readonly started: number
  private readonly scopes: Scope[] = []
  /** The last read of a missing input while evaluating the current action. */
  private lastMissing: MissingUse | undefined
  /** A missing input turned into text by a function while evaluating the current action. */
  private textOfMissing: MissingUse | undefined

  constructor (funcs: ReadonlyMap<string, TemplateFunc>, root: unknown, limits: TemplateLimits) {
    this.funcs = funcs
    this.root = root
    this.limits = limits
    this.started = limits.now()
    this.scopes.push({ vars: new Map([['$', root]]) })
  }

  private tick (pos: Position): void {
    this.steps++
    if (this.steps > this.limits.maxSteps) throw new TemplateStepLimitError(this.limits.maxSteps, pos)
    if (this.steps % CLOCK_EVERY_STEPS === 0 && this.limits.now() - this.started > this.limits.maxTimeMs) {
      throw new TemplateTimeLimitError(this.limits.maxTimeMs, pos)
    }
  }

  private emit (s: string, pos: Position, text?: string): void {
    if (s.length === 0) return
    this.outBytes += Buffer.byteLength(s)
    if (this.outBytes > this.limits.maxOutputBytes) throw new TemplateOutputLimitError(this.limits.maxOutputBytes, 'output', pos)
    this.segments.push(text !== undefined ? { offset: this.outChars, pos, text } : { offset: this.outChars, pos })
    this.out.push(s)
    this.outChars += s.length
  }

  /** A value a function returned: strings are bounded like the output (they could only be printed or measured). */
  private checkValue (v: unknown, pos: Position): unknown {
    if (typeof v === 'string' && v.length > this.limits.maxOutputBytes / 3 && Buffer.byteLength(v) > this.limits.maxOutputBytes) {
      throw new TemplateOutputLimitError(this.limits.maxOutputBytes, 'value', pos)
    }
    return v
  }

  private lookup (name: string, pos: Position): unknown {
    for (let i = this.scopes.length - 1; i >= 0; i--) if (this.scopes[i].vars.has(name)) return this.scopes[i].vars.get(name)
    throw new TemplateExecError(`undefined variable: ${name}`, pos)
  }

  private assign (name: string, v: unknown, pos: Position): void {
    for (let i = this.scopes.length - 1; i >= 0; i--) if (this.scopes[i].vars.has(name)) { this.scopes[i].vars.set(name, v); return }
    throw new TemplateExecError(`undefined variable: ${name}`, pos)
  }

  private pushScope (): void { this.scopes.push({ vars: new Map() }) }

  run (nodes: Node[]): void {
    const stack: ControlFrame[] = [{ k: 'list', nodes, i: 0, dot: this.root, scopeBase: 1 }]
    while (stack.length > 0) {
      const f = stack[stack.length - 1]
      if (f.k === 'range') {
        const e = f.it.next()
        if (e === undefined) { stack.pop(); this.scopes.length = f.scopeBase; continue }
        this.tick(f.node.pos)
        // One scope for the range (its pipeline) and a fresh one per iteration.
        this.scopes.length = f.scopeBase + 1
        this.pushScope()
        const [k, x] = e
        const [d1, d2] = f.node.pipe.decl
        if (d2 !== undefined) { this.setVar(f.node.pipe, d1, k); this.setVar(f.node.pipe, d2, x) } else if (d1 !== undefined) this.setVar(f.node.pipe, d1, f.it.isInt ? k : x)
        stack.push({ k: 'list', nodes: f.node.list, i: 0, dot: x, scopeBase: f.scopeBase + 1 })
        continue
      }
      if (f.i >= f.nodes.length) { stack.pop(); this.scopes.length = f.scopeBase; continue }
      const n = f.nodes[f.i++]
      this.tick(n.pos)
      switch (n.kind) {
        case 'text': this.emit(n.text, n.pos, n.text); break
        case 'action': {
          this.lastMissing = undefined
          this.textOfMissing = undefined
          const v = this.evalPipeline(n.pipe, f.dot, false)
          if (n.pipe.decl.length === 0) {
            const missing = v === undefined ? this.lastMissing as MissingUse | undefined : this.textOfMissing as MissingUse | undefined
            if (missing !== undefined) this.printedMissing.push({ ...missing, offset: this.outChars })
            this.emit(printable(v, n.pos), n.pos)
          }
          break
        }
        case 'if': case 'with': {
          const base = this.scopes.length
          this.pushScope()
          const v = this.evalPipeline(n.pipe, f.dot, false)
          if (truth(v)) stack.push({ k: 'list', nodes: n.list, i: 0, dot: n.kind === 'with' ? v : f.dot, scopeBase: base })
          else if (n.elseList !== undefined) stack.push({ k: 'list', nodes: n.elseList, i: 0, dot: f.dot, scopeBase: base })
          else this.scopes.length = base
          break
        }
        case 'range': {
          const base = this.scopes.length
          this.pushScope()
          // The range pipeline's declarations receive the index/key and element, not the pipeline value.
          const v = this.evalPipeline(n.pipe, f.dot, true)
          const it = rangeIter(v, n.pos)
          if (it === undefined) {
            if (n.elseList !== undefined) stack.push({ k: 'list', nodes: n.elseList, i: 0, dot: f.dot, scopeBase: base })
            else this.scopes.length = base
          } else stack.push({ k: 'range', node: n, it, dot: f.dot, scopeBase: base })
          break
        }
        case 'break': case 'continue': {
          // Unwind to the innermost range (the parser guarantees there is one).
          while (stack[stack.length - 1].k !== 'range') stack.pop()
          if (n.kind === 'break') { const r = stack.pop() as ControlFrame; this.scopes.length = r.scopeBase }
          break
        }
      }
    }
  }

  private setVar (p: Pipeline, name: string, val: unknown): void {
    if (p.isAssign) this.assign(name, val, p.pos); else this.scopes[this.scopes.length - 1].vars.set(name, val)
  }

  /** Evaluates a pipeline, with nested parenthesised pipelines on an explicit stack. */
  private evalPipeline (p: Pipeline, dot: unknown, noDecl: boolean): unknown {
    const stack: ExprFrame[] = [{ k: 'pipe', pipe: p, dot, i: 0, v: undefined, has: false, scoped: false, noDecl, pos: p.pos }]
    let ret: unknown
    let returning = false
    const pushPipe = (a: Extract<Arg, { kind: 'pipe' }>, d: unknown): void => {
      this.pushScope()
      stack.push({ k: 'pipe', pipe: a.pipe, dot: d, i: 0, v: undefined, has: false, scoped: true, noDecl: false, names: a.names, pos: a.pos })
    }
    for (;;) {
      const f = stack[stack.length - 1]
      if (f.k === 'pipe') {
        if (returning) { f.v = ret; f.has = true; f.i++; returning = false }
        if (f.i < f.pipe.cmds.length) {
          const cmd = f.pipe.cmds[f.i]
          this.tick(cmd.pos)
          stack.push({ k: 'cmd', cmd, dot: f.dot, hasFinal: f.has, final: f.v, i: 1, vals: [], last: undefined, usedFinal: false })
          continue
        }
        if (!f.noDecl) {
          for (const name of f.pipe.decl) {
            if (f.pipe.isAssign) this.assign(name, f.v, f.pipe.pos)
            else this.scopes[this.scopes.length - 1].vars.set(name, f.v)
          }
        }
        if (f.scoped) this.scopes.pop()
        stack.pop()
        ret = f.names !== undefined && f.names.length > 0 ? this.fieldChain(f.v, f.names, f.pos, undefined) : f.v
        if (stack.length === 0) return ret
        returning = true
        continue
      }
      // A command.
      const args = f.cmd.args
      const first = args[0]
      if (first.kind !== 'func') {
        if (args.length > 1 || f.hasFinal) {
          if (first.kind === 'field' || first.kind === 'variable' || first.kind === 'pipe') {
            const name = first.kind === 'variable' && first.names.length === 0 ? first.name : '.' + (first.names.at(-1) ?? '')
            throw new TemplateExecError(`can't give argument to non-function ${name}`, first.pos)
          }
          throw new TemplateExecError(`can't give argument to non-function ${describeArg(first)}`, first.pos)
        }
        if (first.kind === 'pipe' && !returning) { pushPipe(first, f.dot); continue }
        const v = returning ? ret : this.evalArg(first, f.dot, f)
        stack.pop()
        ret = v
        returning = true
        continue
      }
      const fn = this.funcs.get(first.name)
      if (fn === undefined) throw new TemplateExecError(`function "${first.name}" not defined`, first.pos)
      if (LAZY.has(first.name)) {
        const isAnd = first.name === 'and'
        // and/or: evaluate operands one at a time, stop at the first that decides.
        let decided = false
        if (returning) {
          returning = false
          f.last = ret
          f.i++
          if (isAnd ? !truth(ret) : truth(ret)) decided = true
        }
        while (!decided && f.i < args.length) {
          const a = args[f.i]
          if (a.kind === 'pipe') break
          const v = this.evalArg(a, f.dot, f)
          f.last = v
          f.i++
          if (isAnd ? !truth(v) : truth(v)) decided = true
        }
        if (!decided && f.i < args.length) { pushPipe(args[f.i] as Extract<Arg, { kind: 'pipe' }>, f.dot); continue }
        if (!decided && f.hasFinal && !f.usedFinal) { f.usedFinal = true; f.last = f.final }
        if (args.length === 1 && !f.hasFinal) throw new TemplateExecError(`wrong number of args for ${first.name}: want at least 1 got 0`, first.pos)
        stack.pop()
        ret = f.last
        returning = true
        continue
      }
      if (returning) { f.vals.push(ret); f.i++; returning = false }
      let pending = false
      while (f.i < args.length) {
        const a = args[f.i]
        if (a.kind === 'pipe') { pushPipe(a, f.dot); pending = true; break }
        f.vals.push(this.evalArg(a, f.dot, f))
        f.i++
      }
      if (pending) continue
      if (f.hasFinal) f.vals.push(f.final)
      let v: unknown
      try {
        v = fn(...f.vals)
      } catch (e) {
        if ((e as Error)?.name === 'TemplateExecError' || (e as Error)?.name === 'MissingInputError') throw e
        // A function that cannot work without an input that was not given: name the input, not the symptom.
        if (f.missing !== undefined) throw new MissingInputError([f.missing], `${first.name} cannot use its "no value" (${(e as Error).message})`, e)
        throw new TemplateExecError(`error calling ${first.name}: ${(e as Error).message}`, first.pos, e)
      }
      if (f.missing !== undefined && TEXT_FUNCS.has(first.name)) this.textOfMissing ??= f.missing
      stack.pop()
      ret = this.checkValue(v, first.pos)
      returning = true
    }
  }

  /** Every operand but a parenthesised pipeline (those go on the expression stack). */
  private evalArg (a: Arg, dot: unknown, cmd: Extract<ExprFrame, { k: 'cmd' }> | undefined): unknown {
    switch (a.kind) {
      case 'dot': return dot
      case 'nil': return null
      case 'literal': return a.value
      case 'field': return this.fieldChain(dot, a.names, a.pos, cmd)
      case 'variable': {
        const base = this.lookup(a.name, a.pos)
        return this.fieldChain(base, a.names, a.pos, cmd)
      }
      case 'func': {
        const fn = this.funcs.get(a.name)
        if (fn === undefined) throw new TemplateExecError(`function "${a.name}" not defined`, a.pos)
        if (LAZY.has(a.name)) throw new TemplateExecError(`wrong number of args for ${a.name}: want at least 1 got 0`, a.pos)
        try {
          return this.checkValue(fn(), a.pos)
        } catch (e) {
          if ((e as Error)?.name === 'TemplateOutputLimitError') throw e
          throw new TemplateExecError(`error calling ${a.name}: ${(e as Error).message}`, a.pos, e)
        }
      }
      case 'pipe': throw new Error('unreachable: parenthesised pipelines are evaluated on the stack')
    }
  }

  private fieldChain (v: unknown, names: string[], pos: Position, cmd: Extract<ExprFrame, { k: 'cmd' }> | undefined): unknown {
    const base = v
    for (let i = 0; i < names.length; i++) {
      const name = names[i]
      if (v === undefined || v === null) return undefined
      if (typeof v !== 'object' || Array.isArray(v)) throw new TemplateExecError(`can't evaluate field ${name} in type ${goType(v)}`, pos)
      if (!Object.hasOwn(v, name)) {
        // A top-level key of the inputs map that is not there: remember which, for the error that names it.
        if (i === 0 && base === this.root) {
          const use = { name, pos }
          this.lastMissing = use
          if (cmd !== undefined) cmd.missing ??= use
        }
        return undefined
      }
      v = (v as Record<string, unknown>)[name]
    }
    return v
  }
}

/** A lazy iterator over what range may iterate, or undefined for nothing to iterate (the else branch). */
function rangeIter (v: unknown, pos: Position): RangeIter | undefined {
  if (v === undefined || v === null) return undefined
  if (Array.isArray(v)) {
    if (v.length === 0) return undefined
    let i = 0
    return { isInt: false, next: () => i < v.length ? [i, v[i++]] : undefined }
  }
  if (typeof v === 'string') throw new TemplateExecError(`range can't iterate over ${v}`, pos)
  if (isInt(v)) {
    if (v <= 0) return undefined
    let i = 0
    return { isInt: true, next: () => { if (i >= v) return undefined; const k = i++; return [k, k] } }
  }
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>
    const keys = Object.keys(o)
    if (keys.length === 0) return undefined
    keys.sort(goKeyOrder)
    let i = 0
    return { isInt: false, next: () => i < keys.length ? [keys[i], o[keys[i++]]] : undefined }
  }
  throw new TemplateExecError(`range can't iterate over ${formatValue(v)}`, pos)
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
