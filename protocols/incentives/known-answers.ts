// What the built-in modules print, computed here without running them: a canary's known answer. Each function
// follows its module's script (modules/<name>/*.sh) for ASCII input; node/incentives' test runs the real images
// through the real executor and compares, so a change to a module that these do not follow fails there.

/** modules/cowsay/cowsay.sh: the message filled into paragraphs, wrapped at 39 columns, in a balloon, and the cow. */
export function cowsayAnswer (message: string): string {
  const W = 39
  // eslint-disable-next-line no-control-regex
  const paras = message.replace(/\n[ \t\r\n\f\v]+/g, '\u0001').split('\u0001')
  const lines: string[] = []
  paras.forEach((para, p) => {
    let t = para.replace(/[ \t\r\n\f\v]+/g, ' ')
    if (p > 0) lines.push('')
    while (t.length > W) {
      const cut = t.slice(0, W + 1).lastIndexOf(' ')
      if (cut < 0) { lines.push(t.slice(0, W)); t = t.slice(W) } else { lines.push(t.slice(0, cut)); t = t.slice(cut + 1) }
    }
    lines.push(t)
  })
  const max = Math.max(...lines.map(l => l.length))
  const pad = (s: string): string => s.padEnd(max)
  const out = [' ' + '_'.repeat(max + 2)]
  if (lines.length < 2) out.push(`< ${pad(lines[0])} >`)
  else {
    out.push(`/ ${pad(lines[0])} \\`)
    for (let i = 1; i < lines.length - 1; i++) out.push(`| ${pad(lines[i])} |`)
    out.push(`\\ ${pad(lines[lines.length - 1])} /`)
  }
  out.push(' ' + '-'.repeat(max + 2))
  out.push('        \\   ^__^', '         \\  (oo)\\_______', '            (__)\\       )\\/\\', '                ||----w |', '                ||     ||')
  return out.join('\n') + '\n'
}

/** modules/primes/primes.sh: the summary line of a sieve up to n. */
export function primesAnswer (n: number): string {
  if (!Number.isSafeInteger(n) || n < 0 || n > 5_000_000) throw new RangeError('primes: n must be a whole number up to 5,000,000')
  const composite = new Uint8Array(n + 1)
  let count = 0
  let largest = 0
  for (let i = 2; i <= n; i++) {
    if (composite[i] === 1) continue
    count++
    largest = i
    for (let j = i * i; j <= n; j += i) composite[j] = 1
  }
  return `n=${n} count=${count} largest=${largest}\n`
}

/** modules/wordcount/wordcount.sh with no input files: `wc -l -w -c` of the text. */
export function wordcountAnswer (text: string): string {
  const lines = (text.match(/\n/g) ?? []).length
  const words = text.split(/[ \t\n\v\f\r]+/).filter(w => w !== '').length
  const bytes = new TextEncoder().encode(text).length
  return `text lines=${lines} words=${words} bytes=${bytes}\n`
}
