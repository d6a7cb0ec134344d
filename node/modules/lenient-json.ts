// JSON as Go's encoding/json reads it, except that trailing commas before ] or } are accepted and reported:
// several public module templates leave one after an optional entry inside {{ if }}. Real Lilypad rejects
// those documents, so the commas come back as positions for a warning to the module's author.
//
// JSON.parse gives the value. Only when it fails does a structural check run over jsonc-parser's scanner (an
// iterative tokenizer; the check keeps its own stack, so nesting depth costs no call stack): it finds the
// trailing commas, or else the first real error, and that error, with its offset, is what gets reported.
import { createScanner } from 'jsonc-parser'

// jsonc-parser's SyntaxKind and ScanError are const enums, which this project's type-stripping setup cannot
// read; these are their documented values.
const SyntaxKind = {
  OpenBraceToken: 1, CloseBraceToken: 2, OpenBracketToken: 3, CloseBracketToken: 4, CommaToken: 5, ColonToken: 6,
  NullKeyword: 7, TrueKeyword: 8, FalseKeyword: 9, StringLiteral: 10, NumericLiteral: 11, LineCommentTrivia: 12,
  BlockCommentTrivia: 13, LineBreakTrivia: 14, Trivia: 15, Unknown: 16, EOF: 17
} as const
const ScanError = {
  None: 0, UnexpectedEndOfComment: 1, UnexpectedEndOfString: 2, UnexpectedEndOfNumber: 3, InvalidUnicode: 4,
  InvalidEscapeCharacter: 5, InvalidCharacter: 6
} as const

export class LenientJsonError extends Error {
  static override name = 'LenientJsonError'
  override name = 'LenientJsonError'
  /** UTF-16 offset into the text. */
  readonly offset: number
  readonly reason: string
  constructor (reason: string, offset: number) {
    super(`${reason} (offset ${offset})`)
    this.reason = reason
    this.offset = offset
  }
}

export interface LenientJson {
  value: unknown
  /** Offsets of the trailing commas that were dropped. */
  trailingCommas: number[]
}

type Expect = 'value' | 'valueOrEnd' | 'commaOrEnd' | 'key' | 'keyOrEnd' | 'colon' | 'eof'

const SCAN_ERRORS: Record<number, string> = {
  [ScanError.UnexpectedEndOfString]: 'a string is not closed on its line (a raw newline inside a JSON string?)',
  [ScanError.UnexpectedEndOfNumber]: 'a number ends too early',
  [ScanError.InvalidUnicode]: 'a \\u escape is not four hex digits',
  [ScanError.InvalidEscapeCharacter]: 'an invalid escape in a string',
  [ScanError.InvalidCharacter]: 'a control character inside a string (it must be escaped)',
  [ScanError.UnexpectedEndOfComment]: 'a comment is not closed'
}

function describe (kind: number, text: string): string {
  switch (kind) {
    case SyntaxKind.OpenBraceToken: return '"{"'
    case SyntaxKind.CloseBraceToken: return '"}"'
    case SyntaxKind.OpenBracketToken: return '"["'
    case SyntaxKind.CloseBracketToken: return '"]"'
    case SyntaxKind.CommaToken: return '","'
    case SyntaxKind.ColonToken: return '":"'
    case SyntaxKind.EOF: return 'the end of the document'
    default: return JSON.stringify(text.length > 40 ? text.slice(0, 40) + '…' : text)
  }
}

/** Finds trailing commas and the first error without building values. */
function check (text: string): { trailingCommas: number[], error?: LenientJsonError } {
  const scanner = createScanner(text, false)
  const containers: Array<'object' | 'array'> = []
  const trailingCommas: number[] = []
  let expect: Expect = 'value'
  let lastComma = -1
  const fail = (reason: string, offset: number): { trailingCommas: number[], error: LenientJsonError } => ({ trailingCommas, error: new LenientJsonError(reason, offset) })
  const afterValue = (): Expect => containers.length === 0 ? 'eof' : 'commaOrEnd'
  for (;;) {
    const kind: number = scanner.scan()
    const offset = scanner.getTokenOffset()
    if (kind === SyntaxKind.Trivia || kind === SyntaxKind.LineBreakTrivia) continue
    if (kind === SyntaxKind.LineCommentTrivia || kind === SyntaxKind.BlockCommentTrivia) return fail('comments are not allowed in JSON', offset)
    const err: number = scanner.getTokenError()
    if (err !== ScanError.None) return fail(SCAN_ERRORS[err] ?? 'invalid token', offset)
    const tok = describe(kind, scanner.getTokenValue())
    const top = containers[containers.length - 1]
    switch (expect) {
      case 'eof':
        if (kind === SyntaxKind.EOF) return { trailingCommas }
        return fail(`unexpected ${tok} after the end of the document`, offset)
      case 'colon':
        if (kind !== SyntaxKind.ColonToken) return fail(`expected ":" after an object key, found ${tok}`, offset)
        expect = 'value'
        continue
      case 'key': case 'keyOrEnd':
        if (kind === SyntaxKind.StringLiteral) { expect = 'colon'; continue }
        if (kind === SyntaxKind.CloseBraceToken) {
          if (expect === 'key') trailingCommas.push(lastComma)
          containers.pop(); expect = afterValue(); continue
        }
        return fail(`expected a quoted object key${expect === 'keyOrEnd' ? ' or "}"' : ''}, found ${tok}`, offset)
      case 'commaOrEnd':
        if (kind === SyntaxKind.CommaToken) { lastComma = offset; expect = top === 'object' ? 'key' : 'value'; continue }
        if ((top === 'object' && kind === SyntaxKind.CloseBraceToken) || (top === 'array' && kind === SyntaxKind.CloseBracketToken)) {
          containers.pop(); expect = afterValue(); continue
        }
        return fail(`expected "," or "${top === 'object' ? '}' : ']'}" after ${top === 'object' ? 'an object member' : 'an array element'}, found ${tok}`, offset)
      case 'value': case 'valueOrEnd':
        switch (kind) {
          case SyntaxKind.OpenBraceToken: containers.push('object'); expect = 'keyOrEnd'; continue
          case SyntaxKind.OpenBracketToken: containers.push('array'); expect = 'valueOrEnd'; continue
          case SyntaxKind.StringLiteral: case SyntaxKind.NumericLiteral:
          case SyntaxKind.TrueKeyword: case SyntaxKind.FalseKeyword: case SyntaxKind.NullKeyword:
            expect = afterValue(); continue
          case SyntaxKind.CloseBracketToken:
            if (top === 'array') {
              // "[]" closes an empty array; "[1,]" is a trailing comma.
              if (expect === 'value') trailingCommas.push(lastComma)
              containers.pop(); expect = afterValue(); continue
            }
            break
        }
        return fail(kind === SyntaxKind.EOF ? 'the document ends where a value was expected' : `unexpected ${tok} where a value was expected`, offset)
    }
  }
}

/** Parses JSON, dropping (and reporting) trailing commas; throws LenientJsonError with an offset. */
export function parseLenientJson (text: string): LenientJson {
  try { return { value: JSON.parse(text), trailingCommas: [] } } catch {
    const { trailingCommas, error } = check(text)
    if (error !== undefined) throw error
    // Blank the commas rather than cut them, so every offset still points into the text as rendered.
    let blanked = ''
    let from = 0
    for (const off of trailingCommas) { blanked += text.slice(from, off) + ' '; from = off + 1 }
    blanked += text.slice(from)
    try {
      return { value: JSON.parse(blanked), trailingCommas }
    } catch (again) {
      // Something the structural check lets through but JSON does not (a leading zero, say).
      const m = /position (\d+)/.exec((again as Error).message)
      throw new LenientJsonError((again as Error).message.replace(/ in JSON at position \d+.*$/, ''), m !== null ? Number(m[1]) : 0)
    }
  }
}
