// `lilypad mediator` runs the mediator role (= node --roles mediator); `lilypad mediator bond|unbond|withdraw-bond|
// status` manage the bond a mediator stakes in the Market for committees (docs/operators.md, "Running a mediator").
// The bond comes from the key's Market deposit and goes back to it; amounts are in LP, never wei, unless --json
// (which gives both). Sent straight to the chain: a mediator node running with the same key shares the nonce, and
// its transaction queue re-reads a nonce the chain disagrees with.
import { parseArgs } from 'node:util'
import type { Command } from '../command.ts'
import { UserError } from '../errors.ts'
import { usageError, parseLP, formatLP } from '../usage.ts'
import { committeeRulesJson, describeCommitteeRules, formatDuration } from '../committee-flags.ts'
import type { ChainClient } from '../../node/chain/index.ts'
import type { CommitteeRules } from '../../protocols/settlement/committee.ts'

const SUBCOMMANDS = ['bond', 'unbond', 'withdraw-bond', 'status'] as const
type Sub = typeof SUBCOMMANDS[number]

const BOND_USAGE = `lilypad mediator bond <LP> [--network N] [--json]          move LP from your Market deposit into your mediator bond
  lilypad mediator unbond [<LP>] [--restart-wait] [--network N] [--json]   start withdrawing the bond (all of it unless an amount is given)
  lilypad mediator withdraw-bond [--network N] [--json]    once the unbond delay has passed: the bond back into your deposit
  lilypad mediator status [--network N] [--json]           your bond, what is unbonding and when, the network's committee rules`

async function runRole (argv: string[]): Promise<number> {
  const { mediator: role } = await import('./node.ts')
  return await role.run(argv)
}

const amountJson = (wei: bigint): { lp: string, wei: string } => ({ lp: formatLP(wei), wei: wei.toString() })

interface BondState {
  address: string
  /** the network's owner approved the key as a mediator (Directory.approvedMediator) */
  approvedMediator: boolean
  /** … and it registered with the mediator role (its node does on start): deals may name it */
  registeredMediator: boolean
  deposit: bigint
  bond: bigint
  unbonding: bigint
  /** unix seconds; 0 when nothing is unbonding */
  unbondAt: number
  /** the chain's latest block time */
  now: number
  rules: CommitteeRules
}

async function readState (chain: ChainClient): Promise<BondState> {
  const [deposit, b, rules, approved, registered, block] = await Promise.all([
    chain.depositOf(), chain.mediatorBond(), chain.committeeRules(), chain.directory.approvedMediator(chain.address), chain.directory.isMediator(chain.address), chain.provider.getBlock('latest')
  ])
  return { address: chain.address, approvedMediator: approved, registeredMediator: registered, deposit, bond: b.amount, unbonding: b.unbonding, unbondAt: b.unbonding > 0n ? b.unbondAt : 0, now: block?.timestamp ?? Math.floor(Date.now() / 1000), rules }
}

const iso = (sec: number): string => new Date(sec * 1000).toISOString()

function stateJson (s: BondState, network: string): Record<string, unknown> {
  return {
    network,
    address: s.address,
    approvedMediator: s.approvedMediator,
    registeredMediator: s.registeredMediator,
    deposit: amountJson(s.deposit),
    bond: amountJson(s.bond),
    unbonding: amountJson(s.unbonding),
    unbondAt: s.unbonding > 0n ? iso(s.unbondAt) : null,
    withdrawable: s.unbonding > 0n && s.now >= s.unbondAt,
    eligible: s.rules.size > 1 && s.bond >= s.rules.minBond,
    committeeRules: committeeRulesJson(s.rules)
  }
}

function stateText (s: BondState, network: string): string {
  const unbonding = s.unbonding === 0n
    ? 'nothing'
    : `${formatLP(s.unbonding)} LP, ${s.now >= s.unbondAt ? `withdrawable since ${iso(s.unbondAt)} ("lilypad mediator withdraw-bond")` : `withdrawable at ${iso(s.unbondAt)} (in ${formatDuration(s.unbondAt - s.now)})`}`
  const standing = s.rules.size === 1
    ? 'this network has no committees: a bond is not needed'
    : s.bond >= s.rules.minBond
      ? `enough to be named in committee deals (at least ${formatLP(s.rules.minBond)} LP)`
      : `too little to be named in committee deals: they need ${formatLP(s.rules.minBond)} LP ("lilypad mediator bond <LP>")`
  const role = s.registeredMediator
    ? ' (an approved, registered mediator)'
    : s.approvedMediator
      ? ' (approved as a mediator, not registered yet: its mediator node registers when it starts)'
      : ' (not approved as a mediator in the Directory: only the network\'s owner approves mediators)'
  return `address    ${s.address}${role}
network    ${network}
bond       ${formatLP(s.bond)} LP: ${standing}
unbonding  ${unbonding}
deposit    ${formatLP(s.deposit)} LP
rules      ${describeCommitteeRules(s.rules)}`
}

function parse (sub: Sub, argv: string[]): { amount?: bigint, amountText?: string, network?: string, json: boolean, restartWait: boolean } {
  let v
  try {
    v = parseArgs({ args: argv, allowPositionals: true, options: { network: { type: 'string', short: 'n' }, json: { type: 'boolean' }, 'restart-wait': { type: 'boolean' } } })
  } catch (err) { throw usageError((err as Error).message, BOND_USAGE) }
  const pos = v.positionals
  if (v.values['restart-wait'] === true && sub !== 'unbond') throw usageError('--restart-wait goes with "lilypad mediator unbond"', BOND_USAGE)
  if (sub === 'bond' && pos.length !== 1) throw usageError('give one amount in LP to bond, e.g. "lilypad mediator bond 100"', BOND_USAGE)
  if (sub === 'unbond' && pos.length > 1) throw usageError('give at most one amount in LP to unbond (none: the whole bond)', BOND_USAGE)
  if ((sub === 'withdraw-bond' || sub === 'status') && pos.length > 0) throw usageError(`unexpected ${pos.join(' ')}: "lilypad mediator ${sub}" takes no amount${sub === 'withdraw-bond' ? ' (it withdraws everything whose wait is over)' : ''}`, BOND_USAGE)
  let amount: bigint | undefined
  if (pos[0] !== undefined) {
    try { amount = parseLP(pos[0]) } catch { throw usageError(`"${pos[0].slice(0, 60)}" is not an LP amount (e.g. 100 or 0.5, 18 decimals at most)`, BOND_USAGE) }
    if (amount === 0n) throw usageError('the amount must be more than 0', BOND_USAGE)
  }
  return { ...(amount !== undefined ? { amount, amountText: formatLP(amount) } : {}), ...(v.values.network !== undefined ? { network: v.values.network } : {}), json: v.values.json === true, restartWait: v.values['restart-wait'] === true }
}

/** Refuses what the Market would refuse (or a second unbond would quietly restart), saying what to do instead. */
function check (sub: Sub, a: ReturnType<typeof parse>, s: BondState): void {
  const due = (): string => s.now >= s.unbondAt ? 'its wait is over' : `withdrawable at ${iso(s.unbondAt)}, in ${formatDuration(s.unbondAt - s.now)}`
  if (sub === 'bond') {
    const want = a.amount as bigint
    if (s.deposit < want) {
      throw new UserError(`bonding ${formatLP(want)} LP: the Market deposit of ${s.address} holds ${formatLP(s.deposit)} LP free`, {
        hint: `a bond comes from the Market deposit: "lilypad deposit ${formatLP(want - s.deposit)}" first (LP from "lilypad faucet" on a test network)`
      })
    }
  } else if (sub === 'unbond') {
    if (s.bond === 0n) {
      throw new UserError(`nothing is bonded for ${s.address}${s.unbonding > 0n ? ` (${formatLP(s.unbonding)} LP is already unbonding: ${due()})` : ''}`, {
        hint: s.unbonding > 0n ? '"lilypad mediator withdraw-bond" once the wait is over; "lilypad mediator status" shows when' : '"lilypad mediator bond <LP>" bonds LP from your Market deposit'
      })
    }
    if (a.amount !== undefined && a.amount > s.bond) {
      throw new UserError(`unbonding ${formatLP(a.amount)} LP: the bond holds ${formatLP(s.bond)} LP`, { hint: `give at most ${formatLP(s.bond)}, or no amount to unbond all of it` })
    }
    if (s.unbonding > 0n && !a.restartWait) {
      throw new UserError(`${formatLP(s.unbonding)} LP is already unbonding (${due()}); unbonding more restarts that wait for all of it`, {
        hint: `"lilypad mediator withdraw-bond" once the wait is over, then unbond the rest; or add --restart-wait to unbond more now and wait ${formatDuration(s.rules.unbondDelay)} for everything`
      })
    }
  } else if (sub === 'withdraw-bond') {
    if (s.unbonding === 0n) {
      throw new UserError(`nothing is unbonding for ${s.address}${s.bond > 0n ? ` (${formatLP(s.bond)} LP is bonded)` : ''}`, {
        hint: s.bond > 0n ? `"lilypad mediator unbond" starts the withdrawal; the LP can be withdrawn ${formatDuration(s.rules.unbondDelay)} later` : '"lilypad mediator status" shows the bond'
      })
    }
    if (s.now < s.unbondAt) {
      throw new UserError(`too early: ${formatLP(s.unbonding)} LP can be withdrawn at ${iso(s.unbondAt)}, in ${formatDuration(s.unbondAt - s.now)}`, {
        hint: `the bond stays slashable for the unbond delay (${formatDuration(s.rules.unbondDelay)}), as long as a deal agreed before the unbond can still be disputed and voted on; run this again then`
      })
    }
  }
}

async function manageBond (sub: Sub, argv: string[]): Promise<number> {
  const a = parse(sub, argv)
  const { resolveNetworkAndKey, toUserError } = await import('../context.ts')
  const resolved = await resolveNetworkAndKey(a.network)
  const { ChainClient } = await import('../../node/chain/index.ts')
  let chain: ChainClient | undefined
  let before: BondState
  let after: BondState
  try {
    chain = await ChainClient.create({ network: resolved.loaded.network, privateKey: resolved.wallet.privateKey })
    before = await readState(chain)
    if (sub !== 'status') {
      check(sub, a, before)
      if (sub === 'bond') await chain.bondMediator(a.amount as bigint)
      else if (sub === 'unbond') await chain.startUnbond(a.amount ?? before.bond)
      else await chain.finishUnbond()
    }
    after = sub === 'status' ? before : await readState(chain)
  } catch (err) {
    throw bondError(toUserError(err))
  } finally {
    await chain?.stop()
  }
  const network = resolved.loaded.network.networkId
  const moved = sub === 'bond' ? (a.amount as bigint) : sub === 'unbond' ? (a.amount ?? before.bond) : sub === 'withdraw-bond' ? before.unbonding : undefined
  if (a.json) {
    console.log(JSON.stringify({ ...(sub !== 'status' ? { action: sub, amount: amountJson(moved as bigint) } : {}), ...stateJson(after, network) }))
    return 0
  }
  if (sub === 'bond') console.error(`bonded ${formatLP(moved as bigint)} LP`)
  if (sub === 'unbond') console.error(`unbonding ${formatLP(moved as bigint)} LP: withdrawable at ${iso(after.unbondAt)} ("lilypad mediator withdraw-bond"); it stays slashable until then`)
  if (sub === 'withdraw-bond') console.error(`withdrew ${formatLP(moved as bigint)} LP of bond into the Market deposit ("lilypad withdraw" moves it to the wallet)`)
  console.log(stateText(after, network))
  return 0
}

/** The Market's own refusals, when the chain moved between the check and the transaction. */
function bondError (e: unknown): unknown {
  const err = e as UserError & { cause?: { name?: string, reason?: string, args?: unknown[] } }
  const reason = err.cause?.name === 'ContractRevertError' ? err.cause.reason : undefined
  switch (reason) {
    case 'UnbondNotDue': return new UserError(`too early: the bond can be withdrawn at ${iso(Number(err.cause?.args?.[0]))}`, { hint: '"lilypad mediator status" shows the time left', cause: e })
    case 'NothingUnbonding': return new UserError('nothing is unbonding', { hint: '"lilypad mediator unbond" starts the withdrawal', cause: e })
    case 'InsufficientBond': return new UserError('the bond holds less than that', { hint: '"lilypad mediator status" shows the bond', cause: e })
    case 'InsufficientBalance': return new UserError('the Market deposit holds less than that', { hint: '"lilypad deposit <LP>" first', cause: e })
    default:
      // a view the Market does not have: a network deployed before committees
      if ((e as { code?: string })?.code === 'CALL_EXCEPTION') return new UserError(`the network's Market does not answer for bonds and committee rules (${(e as Error).message.slice(0, 120)})`, { hint: 'it was deployed before committees: a network made with "lilypad network init --deploy" now has them', cause: e })
      return e
  }
}

export const mediator: Command = {
  name: 'mediator',
  summary: 'Re-run challenged jobs and post verdicts (= node --roles mediator); bond, unbond, withdraw-bond, status: its committee bond',
  usage: `lilypad mediator [node flags: see "lilypad node --help"]   run the mediator role
  ${BOND_USAGE}`,
  async run (argv) {
    const sub = argv[0]
    if (sub !== undefined && (SUBCOMMANDS as readonly string[]).includes(sub)) return await manageBond(sub as Sub, argv.slice(1))
    if (sub !== undefined && !sub.startsWith('-')) throw usageError(`unknown mediator command "${sub}" (${SUBCOMMANDS.join(', ')}, or flags to run the role)`, `lilypad mediator [node flags]\n  ${BOND_USAGE}`)
    return await runRole(argv)
  }
}
