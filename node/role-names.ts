// The roles a node can run, by name; light, so the CLI checks --roles before loading a node.
export const ROLE_NAMES = ['resource-provider', 'solver', 'mediator', 'job-bridge', 'directory', 'validator'] as const
/** Lilypad v2's names for roles: its `jobcreator` service is the on-chain job bridge. */
const ROLE_ALIASES: Record<string, RoleName> = { jobcreator: 'job-bridge' }
export type RoleName = typeof ROLE_NAMES[number]

export class UnknownRoleError extends Error {
  static override name = 'UnknownRoleError'
  override name = 'UnknownRoleError'
}

export function parseRoles (text: string): RoleName[] {
  const roles = text.split(',').map(s => s.trim()).filter(Boolean).map(r => ROLE_ALIASES[r] ?? r)
  for (const r of roles) if (!(ROLE_NAMES as readonly string[]).includes(r)) throw new UnknownRoleError(`unknown role "${r}" (roles: ${ROLE_NAMES.join(', ')})`)
  return [...new Set(roles)] as RoleName[]
}
