// Lexer for Go text/template source: splits text from {{ actions }}, applies the {{- / -}} trim markers and
// tokenises the inside of actions. Positions are 1-based line:column of the token's first character.
import { TemplateSyntaxError, type Position } from './errors.ts'

export type TokenType =
  | 'text' | 'left' | 'right' | 'eof'
  | 'field' | 'variable' | 'dot' | 'ident' | 'keyword' | 'string' | 'rawString' | 'char' | 'number' | 'bool' | 'nil'
  | 'pipe' | 'declare' | 'assign' | 'comma' | 'lparen' | 'rparen' | 'space'

export interface Token { type: TokenType, value: string, pos: Position }

const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'break', 'continue', 'define', 'template', 'block'])
const SPACE = new Set([' ', '\t', '\r', '\n'])
// Sticky: matched in place, without copying the rest of the source for every number.
const NUMBER = /[+-]?(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(?:[0-9][0-9_]*)?\.?[0-9_]*(?:[eE][+-]?[0-9]+)?)/y

export function lex (src: string): Token[] {
  const tokens: Token[] = []
  // Precompute line starts for offset → line:col.
  const lineStarts = [0]
  for (let i = 0; i < src.length; i++) if (src[i] === '\n') lineStarts.push(i + 1)
  const posOf = (off: number): Position => {
    let lo = 0; let hi = lineStarts.length - 1
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (lineStarts[mid] <= off) lo = mid; else hi = mid - 1 }
    return { line: lo + 1, col: off - lineStarts[lo] + 1 }
  }
  let i = 0
  let trimNextText = false
  while (i < src.length) {
    const open = src.indexOf('{{', i)
    const textEnd = open === -1 ? src.length : open
    let text = src.slice(i, textEnd)
    let trimLeft = false
    if (open !== -1 && src[open + 2] === '-' && SPACE.has(src[open + 3] ?? '')) trimLeft = true
    let textStart = i
    if (trimNextText) { const kept = text.replace(/^[ \t\r\n]+/, ''); textStart += text.length - kept.length; text = kept }
    // (a loop, not /\s+$/: that regex is quadratic on long runs of spaces, and the source may be hostile)
    if (trimLeft) { let e = text.length; while (e > 0 && SPACE.has(text[e - 1])) e--; text = text.slice(0, e) }
    // The position is that of the first character kept, so rendered text maps back to the template exactly.
    if (text.length > 0) tokens.push({ type: 'text', value: text, pos: posOf(textStart) })
    trimNextText = false
    if (open === -1) break
    i = open + 2 + (trimLeft ? 2 : 0)
    tokens.push({ type: 'left', value: '{{', pos: posOf(open) })
    // Comments: {{/* … */}} with optional trim markers, nothing else allowed inside the action.
    let j = i
    while (j < src.length && SPACE.has(src[j]) && trimLeft) j++
    if (src.startsWith('/*', j)) {
      const close = src.indexOf('*/', j + 2)
      if (close === -1) throw new TemplateSyntaxError('unclosed comment', posOf(j))
      let k = close + 2
      let trimRight = false
      if (src.startsWith(' -}}', k) || src.startsWith('\t-}}', k) || src.startsWith('\n-}}', k)) { trimRight = true; k += 4 } else if (src.startsWith('}}', k)) k += 2
      else throw new TemplateSyntaxError('comment ends before closing delimiter', posOf(k))
      tokens.pop() // a comment produces no tokens
      i = k
      trimNextText = trimRight
      continue
    }
    // Inside an action.
    for (;;) {
      if (i >= src.length) throw new TemplateSyntaxError('unclosed action', posOf(open))
      const c = src[i]
      const p = posOf(i)
      if (SPACE.has(c)) {
        let k = i
        while (k < src.length && SPACE.has(src[k])) k++
        // " -}}" closes the action and trims what follows.
        if (src[k] === '-' && src.startsWith('}}', k + 1)) {
          tokens.push({ type: 'right', value: '}}', pos: posOf(k) })
          i = k + 3
          trimNextText = true
          break
        }
        tokens.push({ type: 'space', value: src.slice(i, k), pos: p })
        i = k
        continue
      }
      if (src.startsWith('}}', i)) { tokens.push({ type: 'right', value: '}}', pos: p }); i += 2; break }
      if (c === '|') { tokens.push({ type: 'pipe', value: c, pos: p }); i++; continue }
      if (c === '(') { tokens.push({ type: 'lparen', value: c, pos: p }); i++; continue }
      if (c === ')') { tokens.push({ type: 'rparen', value: c, pos: p }); i++; continue }
      if (c === ',') { tokens.push({ type: 'comma', value: c, pos: p }); i++; continue }
      if (c === ':' && src[i + 1] === '=') { tokens.push({ type: 'declare', value: ':=', pos: p }); i += 2; continue }
      if (c === '=') { tokens.push({ type: 'assign', value: '=', pos: p }); i++; continue }
      if (c === '"') {
        let k = i + 1
        while (k < src.length && src[k] !== '"') {
          if (src[k] === '\\') k++
          if (src[k] === '\n') throw new TemplateSyntaxError('unterminated quoted string', p)
          k++
        }
        if (k >= src.length) throw new TemplateSyntaxError('unterminated quoted string', p)
        tokens.push({ type: 'string', value: src.slice(i, k + 1), pos: p }); i = k + 1; continue
      }
      if (c === '`') {
        const k = src.indexOf('`', i + 1)
        if (k === -1) throw new TemplateSyntaxError('unterminated raw quoted string', p)
        tokens.push({ type: 'rawString', value: src.slice(i, k + 1), pos: p }); i = k + 1; continue
      }
      if (c === "'") {
        let k = i + 1
        while (k < src.length && src[k] !== "'") { if (src[k] === '\\') k++; k++ }
        if (k >= src.length) throw new TemplateSyntaxError('unterminated character constant', p)
        tokens.push({ type: 'char', value: src.slice(i, k + 1), pos: p }); i = k + 1; continue
      }
      if (c === '$') {
        let k = i + 1
        while (k < src.length && /[\p{L}\p{N}_]/u.test(src[k])) k++
        tokens.push({ type: 'variable', value: src.slice(i, k), pos: p }); i = k; continue
      }
      if (c === '.') {
        if (/[\p{L}_]/u.test(src[i + 1] ?? '')) {
          let k = i + 1
          while (k < src.length && /[\p{L}\p{N}_]/u.test(src[k])) k++
          tokens.push({ type: 'field', value: src.slice(i, k), pos: p }); i = k; continue
        }
        if (!/[0-9]/.test(src[i + 1] ?? '')) { tokens.push({ type: 'dot', value: '.', pos: p }); i++; continue }
      }
      if (/[0-9+\-.]/.test(c)) {
        NUMBER.lastIndex = i
        const m = NUMBER.exec(src)
        const num = m?.[0] ?? ''
        if (num === '' || num === '-' || num === '+' || num === '.' || !/[0-9]/.test(num)) throw new TemplateSyntaxError(`unexpected "${c}" in command`, p)
        if (/[\p{L}_]/u.test(src[i + num.length] ?? '')) throw new TemplateSyntaxError(`bad number syntax: "${num}${src[i + num.length]}"`, p)
        tokens.push({ type: 'number', value: num, pos: p }); i += num.length; continue
      }
      if (/[\p{L}_]/u.test(c)) {
        let k = i
        while (k < src.length && /[\p{L}\p{N}_]/u.test(src[k])) k++
        const word = src.slice(i, k)
        const type: TokenType = KEYWORDS.has(word) ? 'keyword' : word === 'true' || word === 'false' ? 'bool' : word === 'nil' ? 'nil' : 'ident'
        tokens.push({ type, value: word, pos: p }); i = k; continue
      }
      throw new TemplateSyntaxError(`unrecognized character in action: ${JSON.stringify(c)}`, p)
    }
  }
  tokens.push({ type: 'eof', value: '', pos: posOf(src.length) })
  return tokens
}
