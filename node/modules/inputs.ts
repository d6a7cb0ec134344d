// Job inputs as the CLI takes them (`-i Key=Value`); light, so the CLI checks them before loading anything else.
export class ModuleInputError extends Error {
  static override name = 'ModuleInputError'
  override name = 'ModuleInputError'
}

/** Parses repeated `-i Key=Value` strings into an inputs map (the value may contain "="). */
export function parseInputs (pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const p of pairs) {
    const eq = p.indexOf('=')
    if (eq <= 0) throw new ModuleInputError(`input "${p}" is not Key=Value`)
    const k = p.slice(0, eq)
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new ModuleInputError(`input name "${k}" is not a template field name (letters, digits, _)`)
    out[k] = p.slice(eq + 1)
  }
  return out
}
