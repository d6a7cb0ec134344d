// Job inputs as the CLI takes them (`-i Key=Value`); light, so the CLI checks them before loading anything else.
export class ModuleInputError extends Error {
  static override name = 'ModuleInputError'
  override name = 'ModuleInputError'
}

const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/** Parses repeated `--input-file Name=PATH` strings into name → path (checked for existence by the caller). */
export function parseInputFiles (pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const p of pairs) {
    const eq = p.indexOf('=')
    if (eq <= 0 || eq === p.length - 1) throw new ModuleInputError(`input file "${p}" is not Name=PATH`)
    const k = p.slice(0, eq)
    if (!FIELD_NAME.test(k)) throw new ModuleInputError(`input name "${k}" is not a template field name (letters, digits, _)`)
    if (k in out) throw new ModuleInputError(`input file ${k} is given twice`)
    out[k] = p.slice(eq + 1)
  }
  return out
}

/** Parses repeated `-i Key=Value` strings into an inputs map (the value may contain "="). */
export function parseInputs (pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const p of pairs) {
    const eq = p.indexOf('=')
    if (eq <= 0) throw new ModuleInputError(`input "${p}" is not Key=Value`)
    const k = p.slice(0, eq)
    if (!FIELD_NAME.test(k)) throw new ModuleInputError(`input name "${k}" is not a template field name (letters, digits, _)`)
    out[k] = p.slice(eq + 1)
  }
  return out
}
