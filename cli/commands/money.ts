// `lilypad balance`, `lilypad deposit <LP>`, `lilypad withdraw <LP>`: through the node that owns the key when one
// runs (it owns the key's nonces, on every chain it serves: `--chain` goes to that chain's queue in the node), else
// directly on chain. Amounts in LP with decimals, never wei, unless --json
// (which gives both).
import { parseArgs } from 'node:util'
import { join } from 'node:path'
import type { Command } from '../command.ts'
import { UserError } from '../errors.ts'
import { usageError, parseLP, formatLP } from '../usage.ts'
import type { Balance, Lilypad } from '../../sdk/index.ts'
import type { Resolved } from '../context.ts'
import type { ChainClient } from '../../node/chain/index.ts'

function parse (argv: string[], usage: string, needsAmount: boolean): { amount?: string, network?: string, chain?: string, json: boolean } {
  let v
  try { v = parseArgs({ args: argv, allowPositionals: true, options: { network: { type: 'string', short: 'n' }, chain: { type: 'string' }, json: { type: 'boolean' } } }) } catch (err) { throw usageError((err as Error).message, usage) }
  if (v.values.chain !== undefined && !/^[a-z0-9][a-z0-9-]{0,31}$/.test(v.values.chain.trim())) throw usageError(`--chain "${v.values.chain.slice(0, 40)}" must be a chain id or a chain name of the network file`, usage)
  if (!needsAmount && v.positionals.length > 0) throw usageError(`unexpected ${v.positionals.join(' ')}`, usage)
  if (needsAmount && v.positionals.length !== 1) throw usageError('give one amount in LP, e.g. 10 or 0.5', usage)
  const amount = v.positionals[0]
  if (amount !== undefined) {
    let wei: bigint
    try { wei = parseLP(amount) } catch { throw usageError(`"${amount.slice(0, 60)}" is not an LP amount (e.g. 10 or 0.5, 18 decimals at most)`, usage) }
    if (wei === 0n) throw usageError('the amount must be more than 0', usage)
  }
  return { ...(amount !== undefined ? { amount: amount.trim() } : {}), ...(v.values.network !== undefined ? { network: v.values.network } : {}), ...(v.values.chain !== undefined ? { chain: v.values.chain.trim() } : {}), json: v.values.json === true }
}

const amount = (wei: bigint): { lp: string, wei: string } => ({ lp: formatLP(wei), wei: wei.toString() })

/**
 * Balances read on chain; `locked` from the deals the CLI's own runs recorded (a node's are in the node); those of
 * a further chain's runs (`lilypad run --chain`) are kept under chains/<chain id>.
 */
async function chainBalance (chain: ChainClient, r: Resolved): Promise<Balance> {
  const { lilypadHome } = await import('../context.ts')
  const { DealStore } = await import('../../node/deal-store/deal-store.ts')
  const state = join(lilypadHome(), 'state', r.loaded.network.networkId, r.wallet.address.toLowerCase())
  const further = chain.network.chainId !== r.loaded.network.chainId
  const store = new DealStore<{ id: string, terminal: boolean, updatedAt: number, agreedAt?: number, deal: { price: bigint, mediationFee: bigint } }>(further ? join(state, 'chains', String(chain.network.chainId), 'jc-deals') : join(state, 'jc-deals'))
  const [wallet, deposit, open] = await Promise.all([chain.tokenBalance(), chain.depositOf(), store.open().catch(() => [])])
  let locked = 0n
  for (const d of open) if (d.agreedAt !== undefined) locked += d.deal.price + d.deal.mediationFee
  return { address: chain.address, wallet: amount(wallet), deposit: amount(deposit), locked: amount(locked), chainId: chain.network.chainId }
}

/** One chain's balance, or why it could not be read (a chain whose RPC is down does not hide the others). */
type ChainBalance = { chainId: number, name?: string } & ({ wallet: Balance['wallet'], deposit: Balance['deposit'], locked: Balance['locked'] } | { error: { name: string, message: string } })

async function withBalance (argv: string[], usage: string, action: 'balance' | 'deposit' | 'withdraw'): Promise<number> {
  const a = parse(argv, usage, action !== 'balance')
  const { resolveNetworkAndKey, toUserError } = await import('../context.ts')
  const { runningNode, fromApi } = await import('../node-client.ts')
  const { chainsOf, chainView, findChain } = await import('../../node/config/chains.ts')
  const resolved = await resolveNetworkAndKey(a.network)
  const network = resolved.loaded.network
  let chosen
  try { chosen = a.chain !== undefined ? findChain(network, a.chain) : undefined } catch (err) { throw toUserError(err) }
  const further = chosen !== undefined && chosen.chainId !== network.chainId
  const lp = await runningNode(resolved)
  // every chain of a network of several, unless --chain names one (deposits and withdrawals: the one named, or the first)
  if (action === 'balance' && chosen === undefined && chainsOf(network).length > 1) return await everyChain(resolved, a.json, lp)
  let b: Balance
  if (lp !== undefined) {
    // the node moves LP through the queue of the chain named, which owns this key's nonce there
    const on = further && chosen !== undefined ? { chain: chosen.chainId } : {}
    try {
      b = action === 'balance' ? await lp.balance(on) : action === 'deposit' ? await lp.deposit(a.amount as string, on) : await lp.withdraw(a.amount as string, on)
    } catch (err) { throw await fromApi(err) }
  } else {
    const { ChainClient } = await import('../../node/chain/index.ts')
    let chain: ChainClient | undefined
    try {
      chain = await ChainClient.create({ network: chosen !== undefined ? chainView(network, chosen.chainId) : network, privateKey: resolved.wallet.privateKey })
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
  // the chain is said when it was named, or when the network has several (a one-chain network's output is as it was)
  const { chainId, ...one } = b
  const on = chosen !== undefined || chainsOf(network).length > 1 ? { chainId } : {}
  if (a.json) { console.log(JSON.stringify({ ...one, ...on, via: lp !== undefined ? 'node' : 'chain' })); return 0 }
  if (action !== 'balance') console.error(`${action === 'deposit' ? 'deposited' : 'withdrew'} ${a.amount ?? ''} LP${lp !== undefined ? ' (through the running node)' : ''}${chosen !== undefined ? ` on chain ${chainLabelOf(chosen)}` : ''}`)
  console.log(`address  ${b.address}${chosen !== undefined ? `\nchain    ${chainLabelOf(chosen)}` : ''}\nwallet   ${b.wallet.lp} LP\ndeposit  ${b.deposit.lp} LP (free for new jobs)\nlocked   ${b.locked.lp} LP (in open deals${lp === undefined ? ' of "lilypad run"' : ''})`)
  return 0
}

function chainLabelOf (c: { chainId: number, name?: string }): string {
  return c.name === undefined ? String(c.chainId) : `${c.name} (${c.chainId})`
}

/**
 * The balance on each chain of the network: from the running node when there is one (its locked LP are its open
 * deals'), else read on chain; a chain that cannot be read shows its error and the others are shown all the same
 * (exit 1 then).
 */
async function everyChain (r: Resolved, json: boolean, lp: Lilypad | undefined): Promise<number> {
  const { chainsOf, chainView } = await import('../../node/config/chains.ts')
  const { ChainClient } = await import('../../node/chain/index.ts')
  const { toUserError } = await import('../context.ts')
  const network = r.loaded.network
  const fromNode = async (node: Lilypad): Promise<ChainBalance[]> => {
    const { fromApi } = await import('../node-client.ts')
    try { return (await node.balances()).chains } catch (err) { throw await fromApi(err) }
  }
  const rows: ChainBalance[] = lp !== undefined ? await fromNode(lp) : await Promise.all(chainsOf(network).map(async (c): Promise<ChainBalance> => {
    const id = { chainId: c.chainId, ...(c.name !== undefined ? { name: c.name } : {}) }
    let chain: ChainClient | undefined
    try {
      // a down chain answers in seconds, not after the full retry schedule
      chain = await ChainClient.create({ network: chainView(network, c.chainId), privateKey: r.wallet.privateKey, retry: { attempts: 2, timeoutMs: 5000 } })
      const b = await chainBalance(chain, r)
      return { ...id, wallet: b.wallet, deposit: b.deposit, locked: b.locked }
    } catch (err) {
      const u = toUserError(err) as Error
      return { ...id, error: { name: (err as Error).name ?? 'Error', message: u.message } }
    } finally {
      await chain?.stop()
    }
  }))
  const failed = rows.some(x => 'error' in x)
  if (json) { console.log(JSON.stringify({ address: r.wallet.address, chains: rows, via: lp !== undefined ? 'node' : 'chain' })); return failed ? 1 : 0 }
  console.log(`address  ${r.wallet.address}`)
  for (const x of rows) {
    console.log(`\nchain    ${chainLabelOf(x)}`)
    if ('error' in x) { console.log(`error    ${x.error.message}`); continue }
    console.log(`wallet   ${x.wallet.lp} LP\ndeposit  ${x.deposit.lp} LP (free for new jobs)\nlocked   ${x.locked.lp} LP (in open deals${lp === undefined ? ' of "lilypad run"' : ''})`)
  }
  return failed ? 1 : 0
}

const BALANCE_USAGE = 'lilypad balance [--network N] [--chain ID|NAME] [--json]\n  on a network of several chains: each chain\'s balance, unless --chain names one'
export const balance: Command = { name: 'balance', summary: 'LP in your wallet, in the Market deposit, and locked in open deals (on each chain)', usage: BALANCE_USAGE, run: async argv => await withBalance(argv, BALANCE_USAGE, 'balance') }
const DEPOSIT_USAGE = 'lilypad deposit <LP> [--network N] [--chain ID|NAME] [--json]'
export const deposit: Command = { name: 'deposit', summary: 'Move LP from your wallet into the Market deposit that pays for jobs', usage: DEPOSIT_USAGE, run: async argv => await withBalance(argv, DEPOSIT_USAGE, 'deposit') }
const WITHDRAW_USAGE = 'lilypad withdraw <LP> [--network N] [--chain ID|NAME] [--json]'
export const withdraw: Command = { name: 'withdraw', summary: 'Move LP from the Market deposit back to your wallet', usage: WITHDRAW_USAGE, run: async argv => await withBalance(argv, WITHDRAW_USAGE, 'withdraw') }
