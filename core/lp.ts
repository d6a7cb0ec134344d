// LP amounts as a person reads and writes them (decimal text, 18 decimals) and as the chain holds them (wei).
// Money is exact: no floating point anywhere on the way.
const DECIMALS = 18

/** "1.5" LP → wei. Throws RangeError on anything but a non-negative decimal with at most 18 decimals. */
export function parseLP (text: string): bigint {
  const m = /^\s*(\d+)(?:\.(\d+))?\s*$/.exec(text)
  if (m === null) throw new RangeError(`"${text}" is not an LP amount (e.g. 1.5)`)
  const frac = m[2] ?? ''
  if (frac.length > DECIMALS) throw new RangeError(`"${text}" has more than ${DECIMALS} decimals`)
  return BigInt(m[1]) * 10n ** BigInt(DECIMALS) + BigInt(frac.padEnd(DECIMALS, '0') === '' ? '0' : frac.padEnd(DECIMALS, '0'))
}

/** wei → "1.5 LP" style decimal text (no unit), trailing zeros dropped, at most `maxDecimals` decimals (rounded down). */
export function formatLP (wei: bigint, maxDecimals = DECIMALS): string {
  const neg = wei < 0n
  const abs = neg ? -wei : wei
  const unit = 10n ** BigInt(DECIMALS)
  const whole = abs / unit
  let frac = (abs % unit).toString().padStart(DECIMALS, '0').slice(0, maxDecimals).replace(/0+$/, '')
  if (frac !== '') frac = '.' + frac
  return `${neg ? '-' : ''}${whole}${frac}`
}
