// A Go fmt subset over template values: Sprint, Sprintln and Sprintf with the verbs module templates use
// (%v %+v %s %q %d %f %F %e %g %x %X %o %b %c %t %T %%), flags (- + # 0 space), width and precision, and Go's
// error forms for missing, extra and mismatched arguments (%!d(string=x), %!s(MISSING), %!(EXTRA …)).

/** Go's "invalid reflect.Value": what a missing map key evaluates to. Prints as <no value>. */
export const NO_VALUE: undefined = undefined

export function isInt (v: unknown): v is number { return typeof v === 'number' && Number.isInteger(v) }

export function goType (v: unknown): string {
  if (v === undefined) return '<invalid reflect.Value>'
  if (v === null) return '<nil>'
  if (typeof v === 'string') return 'string'
  if (typeof v === 'boolean') return 'bool'
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64'
  if (typeof v === 'function') return 'func'
  if (Array.isArray(v)) return '[]interface {}'
  return 'map[string]interface {}'
}

function formatFloatG (f: number, prec = -1): string {
  if (Number.isNaN(f)) return 'NaN'
  if (!Number.isFinite(f)) return f > 0 ? '+Inf' : '-Inf'
  if (f === 0) return Object.is(f, -0) ? '-0' : '0'
  // strconv 'g': shortest digits (prec -1) or prec significant digits; %e when exp < -4 || exp >= eprec.
  const p = prec === 0 ? 1 : prec
  const [mant, e] = (p < 0 ? f.toExponential() : f.toExponential(p - 1)).split('e')
  const x = Number(e)
  const m = mant.includes('.') ? mant.replace(/\.?0+$/, '') : mant
  const eprec = p < 0 ? 6 : p
  if (x < -4 || x >= eprec) return `${m}e${x < 0 ? '-' : '+'}${String(Math.abs(x)).padStart(2, '0')}`
  return String(Number(p < 0 ? f : f.toPrecision(p)))
}

function formatValue (v: unknown, plus = false, top = true): string {
  if (v === undefined) return '<no value>'
  if (v === null) return '<nil>'
  if (typeof v === 'string') return v
  if (typeof v === 'boolean') return v ? 'true' : 'false'
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) < 1e21 ? String(v) : formatFloatG(v)
  if (typeof v === 'function') return '0x1'
  if (Array.isArray(v)) return '[' + v.map(x => formatValue(x, plus, false)).join(' ') + ']'
  const o = v as Record<string, unknown>
  const body = Object.keys(o).sort().map(k => `${k}:${formatValue(o[k], plus, false)}`).join(' ')
  return (top ? 'map[' : 'map[') + body + ']'
}

/** strconv.Quote: a double-quoted Go string literal. */
export function goQuote (s: string, ascii = false): string {
  let out = '"'
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0
    switch (ch) {
      case '"': out += '\\"'; continue
      case '\\': out += '\\\\'; continue
      case '\x07': out += '\\a'; continue
      case '\b': out += '\\b'; continue
      case '\f': out += '\\f'; continue
      case '\n': out += '\\n'; continue
      case '\r': out += '\\r'; continue
      case '\t': out += '\\t'; continue
      case '\v': out += '\\v'; continue
    }
    if (cp < 0x20 || cp === 0x7f) out += '\\x' + cp.toString(16).padStart(2, '0')
    else if (cp > 0x7e && (ascii || !/[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]/u.test(ch) || (cp !== 0x20 && /\p{Zs}/u.test(ch)))) {
      out += cp > 0xffff ? '\\U' + cp.toString(16).padStart(8, '0') : '\\u' + cp.toString(16).padStart(4, '0')
    } else out += ch
  }
  return out + '"'
}

export function sprint (args: unknown[]): string {
  let out = ''
  for (let i = 0; i < args.length; i++) {
    // Go adds a space between operands when neither is a string.
    if (i > 0 && typeof args[i] !== 'string' && typeof args[i - 1] !== 'string') out += ' '
    out += formatValue(args[i])
  }
  return out
}

export function sprintln (args: unknown[]): string {
  return args.map(a => formatValue(a)).join(' ') + '\n'
}

interface Spec { minus: boolean, plus: boolean, sharp: boolean, zero: boolean, space: boolean, width?: number, prec?: number }

function pad (s: string, f: Spec, numeric = false): string {
  if (f.width === undefined || s.length >= f.width) return s
  if (f.minus) return s.padEnd(f.width)
  if (f.zero && numeric) {
    const sign = /^[+\- ]/.test(s) ? s[0] : ''
    return sign + s.slice(sign.length).padStart(f.width - sign.length, '0')
  }
  return s.padStart(f.width)
}

function signed (s: string, neg: boolean, f: Spec): string {
  return (neg ? '-' : f.plus ? '+' : f.space ? ' ' : '') + s
}

function bad (verb: string, v: unknown): string { return `%!${verb}(${goType(v)}=${formatValue(v)})` }

function fmtInt (n: number, base: number, verb: string, f: Spec): string {
  let digits = Math.abs(n).toString(base)
  if (verb === 'X') digits = digits.toUpperCase()
  if (f.prec !== undefined) digits = f.prec === 0 && n === 0 ? '' : digits.padStart(f.prec, '0')
  if (f.sharp) digits = (base === 16 ? (verb === 'X' ? '0X' : '0x') : base === 8 ? '0' : base === 2 ? '0b' : '') + digits
  return pad(signed(digits, n < 0, f), f, f.prec === undefined)
}

function hexOfString (s: string, verb: string, f: Spec): string {
  const h = Buffer.from(s, 'utf8').toString('hex')
  const out = verb === 'X' ? h.toUpperCase() : h
  return pad(f.sharp ? (verb === 'X' ? '0X' : '0x') + out : out, f)
}

function fmtOne (verb: string, v: unknown, f: Spec): string {
  switch (verb) {
    case 'v':
      if (f.sharp) return pad(typeof v === 'string' ? goQuote(v) : formatValue(v), f)
      if (typeof v === 'number') return fmtOne(Number.isInteger(v) ? 'd' : 'g', v, f)
      return pad(formatValue(v, f.plus), f)
    case 'T': return pad(goType(v), f)
    case 's':
      if (typeof v === 'string') return pad(f.prec !== undefined ? [...v].slice(0, f.prec).join('') : v, f)
      if (Array.isArray(v) && v.every(x => typeof x === 'string')) return pad(formatValue(v), f)
      if (v === undefined) return pad('<no value>', f)
      return bad(verb, v)
    case 'q':
      if (typeof v === 'string') return pad(f.sharp && !v.includes('`') ? '`' + v + '`' : goQuote(v, f.plus), f)
      if (isInt(v)) return pad(`'${String.fromCodePoint(v)}'`, f)
      return bad(verb, v)
    case 'd': case 'b': case 'o': case 'O':
      if (isInt(v)) {
        if (verb === 'O') return pad(signed('0o' + Math.abs(v).toString(8), v < 0, f), f, true)
        return fmtInt(v, verb === 'd' ? 10 : verb === 'b' ? 2 : 8, verb, f)
      }
      if (Array.isArray(v)) return '[' + v.map(x => fmtOne(verb, x, f)).join(' ') + ']'
      return bad(verb, v)
    case 'x': case 'X':
      if (isInt(v)) return fmtInt(v, 16, verb, f)
      if (typeof v === 'string') return hexOfString(v, verb, f)
      return bad(verb, v)
    case 'c':
      if (isInt(v)) return pad(String.fromCodePoint(v), f)
      return bad(verb, v)
    case 't':
      if (typeof v === 'boolean') return pad(String(v), f)
      return bad(verb, v)
    case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': {
      if (typeof v !== 'number') return bad(verb, v)
      if (!Number.isFinite(v)) return pad(Number.isNaN(v) ? 'NaN' : signed('Inf', v < 0, { ...f, plus: f.plus || false }), f)
      const a = Math.abs(v)
      let s: string
      if (verb === 'f' || verb === 'F') s = a.toFixed(f.prec ?? 6)
      else if (verb === 'e' || verb === 'E') {
        const [m, e] = a.toExponential(f.prec ?? 6).split('e')
        s = `${m}e${e.startsWith('-') ? '-' : '+'}${e.replace(/^[+-]/, '').padStart(2, '0')}`
        if (verb === 'E') s = s.toUpperCase()
      } else {
        s = formatFloatG(a, f.prec ?? -1)
        if (verb === 'G') s = s.toUpperCase()
      }
      return pad(signed(s, v < 0 || Object.is(v, -0), f), f, true)
    }
    default: return `%!${verb}(${goType(v)}=${formatValue(v)})`
  }
}

export function sprintf (format: string, args: unknown[]): string {
  let out = ''
  let argi = 0
  for (let i = 0; i < format.length; i++) {
    const c = format[i]
    if (c !== '%') { out += c; continue }
    i++
    if (i >= format.length) { out += '%!(NOVERB)'; break }
    const f: Spec = { minus: false, plus: false, sharp: false, zero: false, space: false }
    for (; i < format.length; i++) {
      const fl = format[i]
      if (fl === '-') f.minus = true
      else if (fl === '+') f.plus = true
      else if (fl === '#') f.sharp = true
      else if (fl === '0') f.zero = true
      else if (fl === ' ') f.space = true
      else break
    }
    // Go refuses widths and precisions past about 10^6 (fmt's tooLarge), so a format cannot ask for a
    // gigabyte of padding: a literal that long ends the format with %!(NOVERB), an argument gives BADWIDTH.
    let overflow = false
    const readNum = (bad: string): number | undefined => {
      if (format[i] === '*') {
        i++
        const a = args[argi++]
        if (!isInt(a) || a > 1e6 || a < -1e6) { out += bad; return undefined }
        return a
      }
      let n: number | undefined
      for (; i < format.length && format[i] >= '0' && format[i] <= '9'; i++) {
        if (n !== undefined && n > 1e6) { overflow = true; return undefined }
        n = (n ?? 0) * 10 + (format.charCodeAt(i) - 48)
      }
      return n
    }
    f.width = readNum('%!(BADWIDTH)')
    if (f.width !== undefined && f.width < 0) { f.width = -f.width; f.minus = true; f.zero = false }
    if (!overflow && format[i] === '.') {
      i++
      f.prec = readNum('%!(BADPREC)')
      if (f.prec !== undefined && f.prec < 0) { f.prec = undefined; out += '%!(BADPREC)' }
      else if (f.prec === undefined && format[i - 1] !== '*') f.prec = 0
    }
    if (overflow || i >= format.length) { out += '%!(NOVERB)'; break }
    const verb = format[i]
    if (verb === '%') { out += '%'; continue }
    if (argi >= args.length) { out += `%!${verb}(MISSING)`; continue }
    out += fmtOne(verb, args[argi++], f)
  }
  if (argi < args.length) {
    out += '%!(EXTRA ' + args.slice(argi).map(a => `${goType(a)}=${formatValue(a)}`).join(', ') + ')'
  }
  return out
}

export { formatValue }
