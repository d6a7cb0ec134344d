// Parser for Go text/template: tokens → a tree of nodes. Function names are checked against the known set at
// parse time, as Go does ("function "x" not defined").
import { TemplateNestingError, TemplateSyntaxError, UnknownTemplateFunctionError, type Position } from './errors.ts'
import { lex, type Token } from './lex.ts'

export type Arg =
  | { kind: 'field', pos: Position, names: string[] } // .A.B
  | { kind: 'variable', pos: Position, name: string, names: string[] } // $x.A
  | { kind: 'dot', pos: Position }
  | { kind: 'nil', pos: Position }
  | { kind: 'literal', pos: Position, value: unknown }
  | { kind: 'func', pos: Position, name: string }
  | { kind: 'pipe', pos: Position, pipe: Pipeline, names: string[] } // (pipeline).A.B

export interface Command { pos: Position, args: Arg[] }
export interface Pipeline { pos: Position, decl: string[], isAssign: boolean, cmds: Command[] }

export type Node =
  | { kind: 'text', pos: Position, text: string }
  | { kind: 'action', pos: Position, pipe: Pipeline }
  | { kind: 'if' | 'with', pos: Position, pipe: Pipeline, list: Node[], elseList?: Node[] }
  | { kind: 'range', pos: Position, pipe: Pipeline, list: Node[], elseList?: Node[] }
  | { kind: 'break' | 'continue', pos: Position }

export interface ParseLimits {
  maxParenDepth: number
  maxPipelineCommands: number
  maxNesting: number
  maxRangeNesting: number
}

export function parseTemplate (src: string, funcs: ReadonlySet<string>, limits: ParseLimits): Node[] {
  return new Parser(lex(src), funcs, limits).parseRoot()
}

// The parser is iterative: open controls and open parentheses live on explicit stacks, so nesting is bounded
// by the limits (with a named error) and never by the JavaScript call stack.

interface ControlFrame {
  kind: 'root' | 'if' | 'with' | 'range'
  kw: Token
  pipe?: Pipeline
  list: Node[]
  elseList?: Node[]
  inElse: boolean
  /** Opened by {{else if}} / {{else with}}: its {{end}} also closes the control it is the else branch of. */
  sharesEnd: boolean
  /** Length of the variable list before this control; restored at its {{end}}. */
  varsBase: number
}

interface PipeFrame {
  ctx: string
  inAction: boolean
  start: Token
  /** The "(" that opened this pipeline (parenthesised pipelines only). */
  lparen?: Token
  decl: string[]
  isAssign: boolean
  cmds: Command[]
  /** Operands of the command being read; undefined between commands. */
  args?: Arg[]
  cmdFirst?: Token
}

class Parser {
  private i = 0
  private rangeDepth = 0
  private rangeNesting = 0
  private readonly tokens: Token[]
  private readonly funcs: ReadonlySet<string>
  private readonly limits: ParseLimits
  // Declared variable names, innermost last, so an undeclared $x is a parse error as in Go; with a count per
  // name, so a check costs the same however many variables a template declares.
  private readonly vars: string[] = ['$']
  private readonly declared = new Map<string, number>([['$', 1]])

  constructor (tokens: Token[], funcs: ReadonlySet<string>, limits: ParseLimits) { this.tokens = tokens; this.funcs = funcs; this.limits = limits }

  private peek (): Token { return this.tokens[this.i] }
  private next (): Token { return this.tokens[this.i++] }
  private peekNonSpace (): Token { while (this.peek().type === 'space') this.i++; return this.peek() }
  private nextNonSpace (): Token { this.peekNonSpace(); return this.next() }
  private fail (msg: string, t: Token): never { throw new TemplateSyntaxError(msg, t.pos) }
  private describe (t: Token): string { return t.type === 'eof' ? 'EOF' : t.type === 'right' ? '"}}"' : JSON.stringify(t.value) }

  parseRoot (): Node[] {
    const root: ControlFrame = { kind: 'root', kw: this.peek(), list: [], inElse: false, sharesEnd: false, varsBase: 1 }
    const frames: ControlFrame[] = [root]
    const target = (f: ControlFrame): Node[] => f.inElse ? (f.elseList as Node[]) : f.list
    for (;;) {
      const cur = frames[frames.length - 1]
      const t = this.next()
      if (t.type === 'eof') {
        if (cur.kind !== 'root') this.fail(`unexpected EOF: {{${cur.kind}}} has no {{end}}`, cur.kw)
        return root.list
      }
      if (t.type === 'text') { target(cur).push({ kind: 'text', pos: t.pos, text: t.value }); continue }
      // t is 'left'
      const k = this.peekNonSpace()
      if (k.type !== 'keyword') {
        const pipe = this.parsePipeline('command')
        target(cur).push({ kind: 'action', pos: pipe.pos, pipe })
        continue
      }
      this.next()
      switch (k.value) {
        case 'end': {
          this.expectRight('end')
          if (cur.kind === 'root') this.fail('unexpected {{end}}', k)
          // Close this control, and the ones it is the {{else if}} of, which share this {{end}}.
          for (;;) {
            const done = frames.pop() as ControlFrame
            this.closeControl(done)
            const parent = frames[frames.length - 1]
            target(parent).push(this.nodeOf(done))
            if (!done.sharesEnd) break
          }
          continue
        }
        case 'else': {
          if (cur.kind === 'root') this.fail('unexpected {{else}}', k)
          if (cur.inElse) this.fail('expected end; found {{else}}', k)
          this.enterElse(cur)
          const n = this.peekNonSpace()
          // {{else if …}} in an if, {{else with …}} in a with: an else branch holding one nested control that
          // shares our {{end}} (Go accepts only the same keyword).
          if (n.type === 'keyword' && n.value === cur.kind && (n.value === 'if' || n.value === 'with')) {
            this.next()
            frames.push(this.openControl(n.value, n, true, frames.length))
          } else {
            this.expectRight('else')
          }
          continue
        }
        case 'if': case 'with': case 'range':
          frames.push(this.openControl(k.value, k, false, frames.length))
          continue
        case 'break': case 'continue':
          if (this.rangeDepth === 0) this.fail(`{{${k.value}}} outside {{range}}`, k)
          this.expectRight(k.value)
          target(cur).push({ kind: k.value, pos: k.pos })
          continue
        default: this.fail(`{{${k.value}}} is not supported in module templates`, k)
      }
    }
  }

  private openControl (kind: 'if' | 'with' | 'range', kw: Token, sharesEnd: boolean, depth: number): ControlFrame {
    if (depth > this.limits.maxNesting) throw new TemplateNestingError('controls', this.limits.maxNesting, kw.pos)
    if (kind === 'range' && this.rangeNesting >= this.limits.maxRangeNesting) throw new TemplateNestingError('ranges', this.limits.maxRangeNesting, kw.pos)
    const varsBase = this.vars.length
    const pipe = this.parsePipeline(kind)
    if (kind === 'range') { this.rangeDepth++; this.rangeNesting++ }
    return { kind, kw, pipe, list: [], inElse: false, sharesEnd, varsBase }
  }

  private enterElse (f: ControlFrame): void {
    // {{break}} and {{continue}} belong to the range's body, not to its else branch (as in Go).
    if (f.kind === 'range') this.rangeDepth--
    f.inElse = true
    f.elseList = []
  }

  private closeControl (f: ControlFrame): void {
    if (f.kind === 'range') { if (!f.inElse) this.rangeDepth--; this.rangeNesting-- }
    this.popVars(f.varsBase)
  }

  private pushVars (names: string[]): void {
    for (const n of names) { this.vars.push(n); this.declared.set(n, (this.declared.get(n) ?? 0) + 1) }
  }

  private popVars (length: number): void {
    while (this.vars.length > length) {
      const n = this.vars.pop() as string
      const c = (this.declared.get(n) ?? 1) - 1
      if (c === 0) this.declared.delete(n); else this.declared.set(n, c)
    }
  }

  private nodeOf (f: ControlFrame): Node {
    const pipe = f.pipe as Pipeline
    if (f.kind === 'range') return { kind: 'range', pos: f.kw.pos, pipe, list: f.list, elseList: f.elseList }
    return { kind: f.kind as 'if' | 'with', pos: f.kw.pos, pipe, list: f.list, elseList: f.elseList }
  }

  private expectRight (ctx: string): void {
    const t = this.nextNonSpace()
    if (t.type !== 'right') this.fail(`unexpected ${this.describe(t)} in ${ctx}`, t)
  }

  private isDeclared (name: string): boolean { return this.declared.has(name) }

  /**
   * pipeline: [decl :=|=] command ('|' command)*, ended by '}}'. A '(' inside opens a nested pipeline ended
   * by ')'; those are kept on a stack rather than parsed by recursion.
   */
  private parsePipeline (ctx: string): Pipeline {
    const stack: PipeFrame[] = [this.openPipeline(ctx, true)]
    for (;;) {
      const f = stack[stack.length - 1]
      const t = this.peekNonSpace()
      if (f.args === undefined) {
        // Between commands.
        if ((f.inAction && t.type === 'right') || (!f.inAction && t.type === 'rparen')) {
          this.next()
          if (f.cmds.length === 0) this.fail(`missing value for ${f.ctx}`, t)
          const pipe = this.closePipeline(f)
          stack.pop()
          if (stack.length === 0) return pipe
          // The parenthesised pipeline is an operand of the command being read one level up.
          this.finishOperand(stack[stack.length - 1], { kind: 'pipe', pos: (f.lparen as Token).pos, pipe, names: [] })
          continue
        }
        if (t.type === 'eof') this.fail(f.inAction ? 'unclosed action' : 'unclosed left paren', t)
        if (!f.inAction && t.type === 'right') this.fail('unclosed left paren', t)
        if (f.inAction && t.type === 'rparen') this.fail('unexpected right paren', t)
        f.args = []
        f.cmdFirst = t
        continue
      }
      // Inside a command: operands until '|', '}}', ')' or EOF.
      if (t.type === 'pipe' || t.type === 'right' || t.type === 'rparen' || t.type === 'eof') {
        if (t.type === 'rparen' && f.inAction && f.args.length === 0) this.fail('unexpected right paren', t)
        if (f.args.length === 0) this.fail('empty command', f.cmdFirst as Token)
        f.cmds.push({ pos: (f.cmdFirst as Token).pos, args: f.args })
        f.args = undefined
        if (f.cmds.length > this.limits.maxPipelineCommands) throw new TemplateNestingError('pipeline', this.limits.maxPipelineCommands, t.pos)
        if (t.type === 'pipe') this.next()
        continue
      }
      const tok = this.next()
      if (tok.type === 'lparen') {
        if (stack.length - 1 >= this.limits.maxParenDepth) throw new TemplateNestingError('parentheses', this.limits.maxParenDepth, tok.pos)
        stack.push(this.openPipeline('parenthesized pipeline', false, tok))
        continue
      }
      this.finishOperand(f, this.operand(tok))
    }
  }

  /** Reads the optional declaration ("$x :=", "$x =", "$i, $v :=") that starts a pipeline. */
  private openPipeline (ctx: string, inAction: boolean, lparen?: Token): PipeFrame {
    const start = this.peekNonSpace()
    const decl: string[] = []
    let isAssign = false
    const save = this.i
    const v1 = this.nextNonSpace()
    if (v1.type === 'variable') {
      const op = this.nextNonSpace()
      if (op.type === 'declare' || op.type === 'assign') {
        decl.push(v1.value); isAssign = op.type === 'assign'
      } else if (op.type === 'comma' && ctx === 'range') {
        const v2 = this.nextNonSpace()
        const op2 = this.nextNonSpace()
        if (v2.type !== 'variable' || (op2.type !== 'declare' && op2.type !== 'assign')) this.fail('range can only initialize variables as $i, $v :=', v2)
        decl.push(v1.value, v2.value); isAssign = op2.type === 'assign'
      } else this.i = save
    } else this.i = save
    if (isAssign) for (const d of decl) if (!this.isDeclared(d)) this.fail(`undefined variable "${d}"`, start)
    return { ctx, inAction, start, lparen, decl, isAssign, cmds: [] }
  }

  private closePipeline (f: PipeFrame): Pipeline {
    // Declarations become visible after the pipeline.
    if (!f.isAssign) this.pushVars(f.decl)
    for (let k = 1; k < f.cmds.length; k++) {
      const a = f.cmds[k].args[0]
      if (a.kind !== 'func' && a.kind !== 'field' && a.kind !== 'variable' && a.kind !== 'pipe') this.fail('non executable command in pipeline stage ' + (k + 1), { type: 'space', value: '', pos: a.pos })
    }
    return { pos: f.start.pos, decl: f.decl, isAssign: f.isAssign, cmds: f.cmds }
  }

  /** Field chains after an operand (.A.B, $x.A, (pipe).A), then the separator check; appends it. */
  private finishOperand (f: PipeFrame, arg: Arg): void {
    while (this.peek().type === 'field') {
      const fl = this.next()
      if (arg.kind === 'field' || arg.kind === 'variable' || arg.kind === 'pipe') arg.names.push(fl.value.slice(1))
      else this.fail(`unexpected ${JSON.stringify(fl.value)} in operand`, fl)
    }
    // Operands must be separated by spaces: "{{.A.B}}" is one operand, "{{.A"x"}}" is an error.
    const n = this.peek()
    if (n.type !== 'space' && n.type !== 'pipe' && n.type !== 'right' && n.type !== 'rparen' && n.type !== 'eof') this.fail(`unexpected ${this.describe(n)} in operand`, n)
    ;(f.args as Arg[]).push(arg)
  }

  /** Every operand but a parenthesised pipeline. */
  private operand (t: Token): Arg {
    switch (t.type) {
      case 'field': return { kind: 'field', pos: t.pos, names: [t.value.slice(1)] }
      case 'variable':
        if (!this.isDeclared(t.value)) this.fail(`undefined variable "${t.value}"`, t)
        return { kind: 'variable', pos: t.pos, name: t.value, names: [] }
      case 'dot': return { kind: 'dot', pos: t.pos }
      case 'nil': return { kind: 'nil', pos: t.pos }
      case 'bool': return { kind: 'literal', pos: t.pos, value: t.value === 'true' }
      case 'number': return { kind: 'literal', pos: t.pos, value: parseNumber(t) }
      case 'string': return { kind: 'literal', pos: t.pos, value: unquote(t) }
      case 'rawString': return { kind: 'literal', pos: t.pos, value: t.value.slice(1, -1).replace(/\r/g, '') }
      case 'char': {
        const s = unquote({ ...t, value: '"' + t.value.slice(1, -1).replace(/"/g, '\\"').replace(/\\'/g, "'") + '"' })
        const cp = s.codePointAt(0)
        if (cp === undefined || [...s].length !== 1) this.fail(`malformed character constant: ${t.value}`, t)
        return { kind: 'literal', pos: t.pos, value: cp }
      }
      case 'ident':
        if (!this.funcs.has(t.value)) throw new UnknownTemplateFunctionError(t.value, t.pos)
        return { kind: 'func', pos: t.pos, name: t.value }
      default: this.fail(`unexpected ${this.describe(t)} in operand`, t)
    }
  }
}

function parseNumber (t: Token): number {
  const s = t.value.replace(/_/g, '')
  let n: number
  if (/^[+-]?0[xX]/.test(s)) n = (s.startsWith('-') ? -1 : 1) * parseInt(s.replace(/^[+-]?0[xX]/, ''), 16)
  else if (/^[+-]?0[bB]/.test(s)) n = (s.startsWith('-') ? -1 : 1) * parseInt(s.replace(/^[+-]?0[bB]/, ''), 2)
  else if (/^[+-]?0[oO]/.test(s)) n = (s.startsWith('-') ? -1 : 1) * parseInt(s.replace(/^[+-]?0[oO]/, ''), 8)
  else if (/^[+-]?0[0-7]+$/.test(s)) n = (s.startsWith('-') ? -1 : 1) * parseInt(s.replace(/^[+-]?0/, ''), 8)
  else n = Number(s)
  if (!Number.isFinite(n)) throw new TemplateSyntaxError(`bad number syntax: "${t.value}"`, t.pos)
  return n
}

const ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"', "'": "'" }

function unquote (t: Token): string {
  const s = t.value.slice(1, -1)
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const c = s[i]
    if (c !== '\\') { out += c; continue }
    const e = s[++i]
    if (e in ESCAPES) { out += ESCAPES[e]; continue }
    const hexLen = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0
    if (hexLen > 0) {
      const h = s.slice(i + 1, i + 1 + hexLen)
      if (!new RegExp(`^[0-9a-fA-F]{${hexLen}}$`).test(h)) throw new TemplateSyntaxError(`invalid syntax in string ${t.value}`, t.pos)
      out += e === 'x' ? Buffer.from([parseInt(h, 16)]).toString('latin1') : String.fromCodePoint(parseInt(h, 16))
      i += hexLen; continue
    }
    if (/[0-7]/.test(e)) {
      const o = s.slice(i, i + 3)
      if (!/^[0-7]{3}$/.test(o)) throw new TemplateSyntaxError(`invalid syntax in string ${t.value}`, t.pos)
      out += String.fromCharCode(parseInt(o, 8)); i += 2; continue
    }
    throw new TemplateSyntaxError(`invalid syntax in string ${t.value}`, t.pos)
  }
  return out
}
