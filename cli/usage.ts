// Light helpers every command uses while it parses its flags, before anything heavy is loaded.
import { UserError } from './errors.ts'

export function usageError (message: string, usage: string): UserError {
  return new UserError(message, { hint: `usage:\n  ${usage}`, exitCode: 2 })
}

// LP amounts: one parser and one formatter for the CLI, the node's API and the SDK (core/lp.ts)
export { parseLP, formatLP } from '../core/lp.ts'

/** The shape of an Ethereum address (checksums are checked later, where ethers is loaded anyway). */
export function looksLikeAddress (text: string): boolean {
  return /^0x[0-9a-fA-F]{40}$/.test(text)
}
