// Parser for Go text/template: tokens → a tree of nodes. Function names are checked against the known set at
// parse time, as Go does ("function "x" not defined").
import { TemplateSyntaxError, UnknownTemplateFunctionError, type Position } from './errors.ts'
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

export function parseTemplate (src: string, funcs: ReadonlySet<string>): Node[] {
  return new Parser(lex(src), funcs).parseRoot()
}

type EndKind = 'end' | 'else' | 'eof'

class Parser {
  private i = 0
  private rangeDepth = 0
  private readonly tokens: Token[]
  private readonly funcs: ReadonlySet<string>
  // Declared variable names per scope, so an undeclared $x is a parse error as in Go.
  private readonly vars: string[][] = [['$']]

  constructor (tokens: Token[], funcs: ReadonlySet<string>) { this.tokens = tokens; this.funcs = funcs }

  private peek (): Token { return this.tokens[this.i] }
  private next (): Token { return this.tokens[this.i++] }
  private peekNonSpace (): Token { while (this.peek().type === 'space') this.i++; return this.peek() }
  private nextNonSpace (): Token { this.peekNonSpace(); return this.next() }
  private fail (msg: string, t: Token): never { throw new TemplateSyntaxError(msg, t.pos) }
  private describe (t: Token): string { return t.type === 'eof' ? 'EOF' : t.type === 'right' ? '"}}"' : JSON.stringify(t.value) }

  parseRoot (): Node[] {
    const [list, end, tok] = this.parseList()
    if (end !== 'eof') this.fail(`unexpected {{${end}}}`, tok)
    return list
  }

  /** Parses nodes until {{end}}, {{else…}} or EOF; returns which one stopped it (positioned after the keyword). */
  private parseList (): [Node[], EndKind, Token] {
    const nodes: Node[] = []
    for (;;) {
      const t = this.next()
      if (t.type === 'eof') return [nodes, 'eof', t]
      if (t.type === 'text') { nodes.push({ kind: 'text', pos: t.pos, text: t.value }); continue }
      // t is 'left'
      const k = this.peekNonSpace()
      if (k.type === 'keyword') {
        this.next()
        switch (k.value) {
          case 'end': this.expectRight('end'); return [nodes, 'end', k]
          case 'else': return [nodes, 'else', k]
          case 'if': case 'with': nodes.push(this.parseControl(k.value, k)); continue
          case 'range': nodes.push(this.parseRange(k)); continue
          case 'break': case 'continue':
            if (this.rangeDepth === 0) this.fail(`{{${k.value}}} outside {{range}}`, k)
            this.expectRight(k.value)
            nodes.push({ kind: k.value, pos: k.pos }); continue
          default: this.fail(`{{${k.value}}} is not supported in module templates`, k)
        }
      }
      const pipe = this.parsePipeline('command', true)
      nodes.push({ kind: 'action', pos: pipe.pos, pipe })
    }
  }

  private expectRight (ctx: string): void {
    const t = this.nextNonSpace()
    if (t.type !== 'right') this.fail(`unexpected ${this.describe(t)} in ${ctx}`, t)
  }

  private parseControl (kind: 'if' | 'with', kw: Token): Node {
    this.vars.push([])
    const pipe = this.parsePipeline(kind, true)
    const [list, end, tok] = this.parseList()
    let elseList: Node[] | undefined
    if (end === 'eof') this.fail(`unexpected EOF: {{${kind}}} has no {{end}}`, kw)
    if (end === 'else') {
      const n = this.peekNonSpace()
      // {{else if …}} / {{else with …}}: an else branch holding one nested control that shares our {{end}}.
      if (n.type === 'keyword' && (n.value === 'if' || n.value === 'with')) {
        this.next()
        elseList = [this.parseControl(n.value, n)]
      } else {
        this.expectRight('else')
        const [l2, end2, tok2] = this.parseList()
        if (end2 !== 'end') this.fail(end2 === 'eof' ? `unexpected EOF: {{${kind}}} has no {{end}}` : 'expected end; found {{else}}', tok2)
        elseList = l2
      }
    } else void tok
    this.vars.pop()
    return { kind, pos: kw.pos, pipe, list, elseList }
  }

  private parseRange (kw: Token): Node {
    this.vars.push([])
    const pipe = this.parsePipeline('range', true)
    this.rangeDepth++
    const [list, end, tok] = this.parseList()
    this.rangeDepth--
    let elseList: Node[] | undefined
    if (end === 'eof') this.fail('unexpected EOF: {{range}} has no {{end}}', kw)
    if (end === 'else') {
      this.expectRight('else')
      const [l2, end2, tok2] = this.parseList()
      if (end2 !== 'end') this.fail(end2 === 'eof' ? 'unexpected EOF: {{range}} has no {{end}}' : 'expected end; found {{else}}', tok2)
      elseList = l2
    } else void tok
    this.vars.pop()
    return { kind: 'range', pos: kw.pos, pipe, list, elseList }
  }

  private isDeclared (name: string): boolean { return this.vars.some(s => s.includes(name)) }

  /** pipeline: [decl :=|=] command ('|' command)*; ends at '}}' (action) or ')' (parenthesised). */
  private parsePipeline (ctx: string, inAction: boolean): Pipeline {
    const start = this.peekNonSpace()
    const decl: string[] = []
    let isAssign = false
    // Look ahead for "$x :=", "$x =" or "$i, $v :=".
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
    const cmds: Command[] = []
    for (;;) {
      const t = this.peekNonSpace()
      if ((inAction && t.type === 'right') || (!inAction && t.type === 'rparen')) {
        this.next()
        if (cmds.length === 0) this.fail(`missing value for ${ctx}`, t)
        break
      }
      if (t.type === 'eof') this.fail(inAction ? 'unclosed action' : 'unclosed left paren', t)
      if (!inAction && t.type === 'right') this.fail('unclosed left paren', t)
      if (inAction && t.type === 'rparen') this.fail('unexpected right paren', t)
      cmds.push(this.parseCommand(inAction))
      const after = this.peekNonSpace()
      if (after.type === 'pipe') { this.next(); continue }
    }
    // Declarations become visible after the pipeline, as in Go.
    if (!isAssign) this.vars[this.vars.length - 1].push(...decl)
    for (let k = 1; k < cmds.length; k++) {
      const a = cmds[k].args[0]
      if (a.kind !== 'func' && a.kind !== 'field' && a.kind !== 'variable' && a.kind !== 'pipe') this.fail('non executable command in pipeline stage ' + (k + 1), { type: 'space', value: '', pos: a.pos })
    }
    return { pos: start.pos, decl, isAssign, cmds }
  }

  private parseCommand (inAction: boolean): Command {
    const args: Arg[] = []
    const first = this.peekNonSpace()
    for (;;) {
      const t = this.peekNonSpace()
      if (t.type === 'pipe' || t.type === 'right' || t.type === 'rparen' || t.type === 'eof') {
        if (t.type === 'rparen' && inAction && args.length === 0) this.fail('unexpected right paren', t)
        break
      }
      args.push(this.parseOperand())
      // Operands must be separated by spaces: "{{.A.B}}" is one operand, "{{.A"x"}}" is an error.
      const n = this.peek()
      if (n.type !== 'space' && n.type !== 'pipe' && n.type !== 'right' && n.type !== 'rparen' && n.type !== 'eof') this.fail(`unexpected ${this.describe(n)} in operand`, n)
    }
    if (args.length === 0) this.fail('empty command', first)
    return { pos: first.pos, args }
  }

  private parseOperand (): Arg {
    const t = this.next()
    let arg: Arg
    switch (t.type) {
      case 'field': arg = { kind: 'field', pos: t.pos, names: [t.value.slice(1)] }; break
      case 'variable':
        if (!this.isDeclared(t.value)) this.fail(`undefined variable "${t.value}"`, t)
        arg = { kind: 'variable', pos: t.pos, name: t.value, names: [] }; break
      case 'dot': arg = { kind: 'dot', pos: t.pos }; break
      case 'nil': arg = { kind: 'nil', pos: t.pos }; break
      case 'bool': arg = { kind: 'literal', pos: t.pos, value: t.value === 'true' }; break
      case 'number': arg = { kind: 'literal', pos: t.pos, value: parseNumber(t) }; break
      case 'string': arg = { kind: 'literal', pos: t.pos, value: unquote(t) }; break
      case 'rawString': arg = { kind: 'literal', pos: t.pos, value: t.value.slice(1, -1).replace(/\r/g, '') }; break
      case 'char': {
        const s = unquote({ ...t, value: '"' + t.value.slice(1, -1).replace(/"/g, '\\"').replace(/\\'/g, "'") + '"' })
        const cp = s.codePointAt(0)
        if (cp === undefined || [...s].length !== 1) this.fail(`malformed character constant: ${t.value}`, t)
        arg = { kind: 'literal', pos: t.pos, value: cp }; break
      }
      case 'ident':
        if (!this.funcs.has(t.value)) throw new UnknownTemplateFunctionError(t.value, t.pos)
        arg = { kind: 'func', pos: t.pos, name: t.value }; break
      case 'lparen': {
        const pipe = this.parsePipeline('parenthesized pipeline', false)
        arg = { kind: 'pipe', pos: t.pos, pipe, names: [] }; break
      }
      default: this.fail(`unexpected ${this.describe(t)} in operand`, t)
    }
    // Field chains: .A.B, $x.A, (pipe).A
    while (this.peek().type === 'field') {
      const f = this.next()
      if (arg.kind === 'field' || arg.kind === 'variable' || arg.kind === 'pipe') arg.names.push(f.value.slice(1))
      else this.fail(`unexpected ${JSON.stringify(f.value)} in operand`, f)
    }
    return arg
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
