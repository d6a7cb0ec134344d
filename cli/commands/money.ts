// `lilypad balance`, `lilypad deposit <LP>`, `lilypad withdraw <LP>`: through the node that owns the key when one
// runs (it owns the key's nonce), else directly on chain. Amounts in LP with decimals, never wei, unless --json
// (which gives both).
import { parseArgs } from 'node:util'
import { join } from 'node:path'
import type { Command } from '../command.ts'
import { UserError } from '../errors.ts'
import { usageError, parseLP, formatLP } from '../usage.ts'
import type { Balance } from '../../sdk/index.ts'
import type { Resolved } from '../context.ts'
import type { ChainClient } from '../../node/chain/index.ts'

function parse (argv: string[], usage: string, needsAmount: boolean): { amount?: string, network?: string, json: boolean } {
  let v
  try { v = parseArgs({ args: argv, allowPositionals: true, options: { network: { type: 'string', short: 'n' }, json: { type: 'boolean' } } }) } catch (err) { throw usageError((err as Error).message, usage) }
  if (!needsAmount && v.positionals.length > 0) throw usageError(`unexpected ${v.positionals.join(' ')}`, usage)
  if (needsAmount && v.positionals.length !== 1) throw usageError('give one amount in LP, e.g. 10 or 0.5', usage)
  const amount = v.positionals[0]
  if (amount !== undefined) {
    let wei: bigint
    try { wei = parseLP(amount) } catch { throw usageError(`"${amount.slice(0, 60)}" is not an LP amount (e.g. 10 or 0.5, 18 decimals at most)`, usage) }
    if (wei === 0n) throw usageError('the amount must be more than 0', usage)
  }
  return { ...(amount !== undefined ? { amount: amount.trim() } : {}), ...(v.values.network !== undefined ? { network: v.values.network } : {}), json: v.values.json === true }
}

const amount = (wei: bigint): { lp: string, wei: string } => ({ lp: formatLP(wei), wei: wei.toString() })

/** Balances read on chain; `locked` from the deals the CLI's own runs recorded (a node's are in the node). */
async function chainBalance (chain: ChainClient, r: Resolved): Promise<Balance> {
  const { lilypadHome } = await import('../context.ts')
  const { DealStore } = await import('../../node/deal-store/deal-store.ts')
  const store = new DealStore<{ id: string, terminal: boolean, updatedAt: number, agreedAt?: number, deal: { price: bigint, mediationFee: bigint } }>(join(lilypadHome(), 'state', r.loaded.network.networkId, r.wallet.address.toLowerCase(), 'jc-deals'))
  const [wallet, deposit, open] = await Promise.all([chain.tokenBalance(), chain.depositOf(), store.open().catch(() => [])])
  let locked = 0n
  for (const d of open) if (d.agreedAt !== undefined) locked += d.deal.price + d.deal.mediationFee
  return { address: chain.address, wallet: amount(wallet), deposit: amount(deposit), locked: amount(locked) }
}

async function withBalance (argv: string[], usage: string, action: 'balance' | 'deposit' | 'withdraw'): Promise<number> {
  const a = parse(argv, usage, action !== 'balance')
  const { resolveNetworkAndKey, toUserError } = await import('../context.ts')
  const { runningNode, fromApi } = await import('../node-client.ts')
  const resolved = await resolveNetworkAndKey(a.network)
  const lp = await runningNode(resolved)
  let b: Balance
  if (lp !== undefined) {
    try {
      b = action === 'balance' ? await lp.balance() : action === 'deposit' ? await lp.deposit(a.amount as string) : await lp.withdraw(a.amount as string)
    } catch (err) { throw await fromApi(err) }
  } else {
    const { ChainClient } = await import('../../node/chain/index.ts')
    let chain: ChainClient | undefined
    try {
      chain = await ChainClient.create({ network: resolved.loaded.network, privateKey: resolved.wallet.privateKey })
      if (action !== 'balance') {
        const wei = parseLP(a.amount as string)
        const have = action === 'deposit' ? await chain.tokenBalance() : await chain.depositOf()
        if (have < wei) {
          throw new UserError(action === 'deposit' ? `depositing ${formatLP(wei)} LP: the wallet holds ${formatLP(have)} LP` : `withdrawing ${formatLP(wei)} LP: the Market deposit holds ${formatLP(have)} LP free`, {
            hint: action === 'deposit' ? 'get LP with "lilypad faucet" (on a test network) or send some to this address' : '"lilypad balance" shows what is free and what is locked in open deals'
          })
        }
        if (action === 'deposit') await chain.deposit(wei)
        else await chain.withdraw(wei)
      }
      b = await chainBalance(chain, resolved)
    } catch (err) {
      throw toUserError(err)
    } finally {
      await chain?.stop()
    }
  }
  if (a.json) { console.log(JSON.stringify({ ...b, via: lp !== undefined ? 'node' : 'chain' })); return 0 }
  if (action !== 'balance') console.error(`${action === 'deposit' ? 'deposited' : 'withdrew'} ${a.amount ?? ''} LP${lp !== undefined ? ' (through the running node)' : ''}`)
  console.log(`address  ${b.address}\nwallet   ${b.wallet.lp} LP\ndeposit  ${b.deposit.lp} LP (free for new jobs)\nlocked   ${b.locked.lp} LP (in open deals${lp === undefined ? ' of "lilypad run"' : ''})`)
  return 0
}

const BALANCE_USAGE = 'lilypad balance [--network N] [--json]'
export const balance: Command = { name: 'balance', summary: 'LP in your wallet, in the Market deposit, and locked in open deals', usage: BALANCE_USAGE, run: async argv => await withBalance(argv, BALANCE_USAGE, 'balance') }
const DEPOSIT_USAGE = 'lilypad deposit <LP> [--network N] [--json]'
export const deposit: Command = { name: 'deposit', summary: 'Move LP from your wallet into the Market deposit that pays for jobs', usage: DEPOSIT_USAGE, run: async argv => await withBalance(argv, DEPOSIT_USAGE, 'deposit') }
const WITHDRAW_USAGE = 'lilypad withdraw <LP> [--network N] [--json]'
export const withdraw: Command = { name: 'withdraw', summary: 'Move LP from the Market deposit back to your wallet', usage: WITHDRAW_USAGE, run: async argv => await withBalance(argv, WITHDRAW_USAGE, 'withdraw') }
