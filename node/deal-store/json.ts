// JSON that round-trips the bigints our signed messages carry: a bigint is written as {"$bigint":"123"}.
export function toJson (value: unknown, space?: number): string {
  return JSON.stringify(value, (_k, v: unknown) => typeof v === 'bigint' ? { $bigint: v.toString() } : v, space)
}

export function fromJson<T = unknown> (text: string): T {
  return JSON.parse(text, (_k, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>
      const keys = Object.keys(o)
      if (keys.length === 1 && keys[0] === '$bigint' && typeof o.$bigint === 'string') return BigInt(o.$bigint)
    }
    return v
  }) as T
}
