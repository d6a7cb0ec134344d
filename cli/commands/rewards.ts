import { parseArgs } from 'node:util'
import { readFile } from 'node:fs/promises'
import type { Command } from '../command.ts'
import { usageError, looksLikeAddress, formatLP } from '../usage.ts'
import { UserError } from '../errors.ts'

const USAGE = 'lilypad rewards <compute|status|claim|publish|finalize|record> [--epoch N] [--account ADDR] [--network N] [--json] [FILE]\n' +
  '  compute   the epoch\'s rewards and Merkle root, from the chain alone (default: the last closed epoch)\n' +
  '  status    the epoch\'s proposed and final roots, and the pool\n' +
  '  claim     pay the key\'s (or --account\'s) rewards of every final epoch not yet claimed, or of --epoch\n' +
  '  publish   (a publisher) propose the root computed here and veto any other proposal for the epoch\n' +
  '  finalize  make the epoch\'s agreed root final once its delay has passed\n' +
  '  record    record signed canary reports (a JSON array in FILE) in the Rewards contract'

const SUBCOMMANDS = ['compute', 'status', 'claim', 'publish', 'finalize', 'record'] as const
type Sub = typeof SUBCOMMANDS[number]

interface Args { sub: Sub, epoch?: number, account?: string, network?: string, json: boolean, file?: string }

function parse (argv: string[]): Args {
  let v
  try {
    v = parseArgs({ args: argv, allowPositionals: true, options: { epoch: { type: 'string' }, account: { type: 'string' }, network: { type: 'string', short: 'n' }, json: { type: 'boolean' } } })
  } catch (err) { throw usageError((err as Error).message, USAGE) }
  const [sub, ...rest] = v.positionals
  if (sub === undefined) throw usageError('name what to do: compute, status, claim, publish, finalize or record', USAGE)
  if (!(SUBCOMMANDS as readonly string[]).includes(sub)) throw usageError(`unknown rewards command "${sub}"`, USAGE)
  if (sub === 'record' ? rest.length !== 1 : rest.length !== 0) throw usageError(sub === 'record' ? 'record takes one FILE of signed canary reports' : `unexpected "${rest.join(' ')}"`, USAGE)
  let epoch: number | undefined
  if (v.values.epoch !== undefined) {
    if (!/^\d{1,12}$/.test(v.values.epoch)) throw usageError(`--epoch "${v.values.epoch}" must be a whole number`, USAGE)
    epoch = Number(v.values.epoch)
  }
  if (v.values.account !== undefined && !looksLikeAddress(v.values.account)) throw usageError(`--account "${v.values.account}" is not an Ethereum address`, USAGE)
  if (v.values.account !== undefined && sub !== 'claim') throw usageError('--account is for claim', USAGE)
  return { sub: sub as Sub, epoch, account: v.values.account, network: v.values.network, json: v.values.json === true, file: sub === 'record' ? rest[0] : undefined }
}

const lp = (wei: bigint): string => `${formatLP(wei, 6)} LP`
const jsonOut = (x: unknown): void => { console.log(JSON.stringify(x, (_k, v) => typeof v === 'bigint' ? v.toString() : v, 2)) }

export const rewards: Command = {
  name: 'rewards',
  summary: 'Compute, publish and claim the incentivised testnet\'s rewards (amounts in LP)',
  usage: USAGE,
  async run (argv) {
    const a = parse(argv)
    const { toUserError } = await import('../context.ts')
    try {
      return await runSub(a)
    } catch (err) {
      throw toUserError(err)
    }
  }
}

async function runSub (a: Args): Promise<number> {
  const { loadNetwork } = await import('../../node/config/load.ts')
  const { openRewardsReader, computeEpoch, RootMismatchError } = await import('../../node/incentives/compute.ts')
  const { lastClosedEpoch, epochEnd } = await import('../../protocols/incentives/index.ts')
  const loaded = await loadNetwork(a.network)
  const reader = await openRewardsReader(loaded.network)
  try {
    if (a.sub === 'compute') {
      const c = await computeEpoch(reader, a.epoch)
      const r = c.rewards
      const matches = c.finalRoot === undefined ? undefined : c.tree !== undefined && c.finalRoot.root === c.tree.root && c.finalRoot.total === c.tree.total
      if (a.json) {
        jsonOut({
          epoch: r.epoch, root: c.tree?.root ?? null, total: r.total, totalLP: formatLP(r.total), rulesHash: r.rulesHash, blocks: [c.inputs.fromBlock, c.inputs.toBlock], scaled: r.scaled,
          finalRoot: c.finalRoot ?? null, matchesFinalRoot: matches ?? null,
          providers: r.providers.map(p => ({ ...p, amountLP: formatLP(p.amount) })), ignoredReports: r.ignoredReports
        })
      } else {
        console.log(`epoch ${r.epoch} (blocks ${c.inputs.fromBlock}..${c.inputs.toBlock}): ${r.providers.length} providers, ${lp(r.total)} in all${r.scaled ? ' (scaled down to the budget)' : ''}`)
        console.log(`root ${c.tree?.root ?? '(none: nobody earned anything)'}`)
        for (const p of r.providers) {
          console.log(`  ${p.provider}  ${lp(p.amount).padStart(16)}  canaries ${p.passes} passed / ${p.failedCanaries} failed, ${p.paidDeals} paid deals${p.noReward !== undefined ? `  (nothing: ${p.noReward})` : ''}`)
        }
        if (c.finalRoot !== undefined) console.log(matches === true ? 'the final root on chain is this one' : `the final root on chain is ${c.finalRoot.root} (total ${lp(c.finalRoot.total)}): NOT the one computed here`)
      }
      return matches === false ? 1 : 0
    }
    if (a.sub === 'status') {
      const now = (await reader.provider.getBlock('latest'))?.timestamp ?? 0
      const epoch = a.epoch ?? Math.max(0, lastClosedEpoch(reader.config, now))
      const final = await reader.contract.epochs(epoch)
      const proposed = await reader.contract.queryFilter(reader.contract.filters.RootProposed(epoch))
      const vetoed = await reader.contract.queryFilter(reader.contract.filters.RootVetoed(epoch))
      const keyOf = (x: { root: string, total: bigint }): string => `${x.root}:${x.total}`
      const proposals = new Map<string, { root: string, total: bigint, approvals: number, vetoes: number, readyAt: number }>()
      for (const e of [...proposed, ...vetoed]) {
        const args = (e as unknown as { args: { root: string, total: bigint } }).args
        const p = await reader.contract.proposals(epoch, await reader.contract.proposalKey(args.root, args.total))
        proposals.set(keyOf(args), { root: args.root, total: args.total, approvals: Number(p.approvals), vetoes: Number(p.vetoes), readyAt: Number(p.readyAt) })
      }
      const pool = { free: await reader.contract.freeBalance(), owed: await reader.contract.outstanding() }
      const status = {
        epoch, endsAt: epochEnd(reader.config, epoch), threshold: reader.config.threshold,
        final: final.finalizedAt > 0n ? { root: final.root, total: final.total, claimed: final.claimed, finalizedAt: Number(final.finalizedAt), expired: final.expired } : null,
        proposals: [...proposals.values()], pool
      }
      if (a.json) { jsonOut(status); return 0 }
      console.log(`epoch ${epoch}: ${status.final !== null ? `final root ${status.final.root}, ${lp(status.final.total)} (${lp(status.final.claimed)} claimed)` : 'no final root yet'}`)
      for (const p of status.proposals) console.log(`  proposed ${p.root}  ${lp(p.total)}  ${p.approvals} approvals, ${p.vetoes} vetoes (needs ${reader.config.threshold + p.vetoes})${p.readyAt > 0 ? `, final from ${new Date(p.readyAt * 1000).toISOString()}` : ''}`)
      console.log(`pool: ${lp(pool.free)} free, ${lp(pool.owed)} owed to final roots`)
      return 0
    }

    // the rest send transactions: they need a key
    const { resolveNetworkAndKey } = await import('../context.ts')
    const { ChainClient } = await import('../../node/chain/index.ts')
    const { RewardsClient } = await import('../../node/incentives/rewards-client.ts')
    const { wallet } = await resolveNetworkAndKey(a.network)
    const chain = await ChainClient.create({ network: loaded.network, privateKey: wallet.privateKey })
    try {
      const client = new RewardsClient(chain, loaded.network.contracts.rewards)
      if (a.sub === 'record') {
        const { canaryReportFromJson } = await import('../../protocols/incentives/index.ts')
        let raw: unknown
        try { raw = JSON.parse(await readFile(a.file as string, 'utf8')) } catch (err) { throw new UserError(`cannot read ${a.file as string}: ${(err as Error).message}`, { hint: 'FILE is a JSON array of signed canary reports, as the validator writes them', exitCode: 2 }) }
        if (!Array.isArray(raw)) throw new UserError(`${a.file as string} is not a JSON array`, { exitCode: 2 })
        const reports = raw.map(canaryReportFromJson)
        const receipt = await client.recordCanaries(reports)
        if (a.json) jsonOut({ recorded: reports.length, tx: receipt.hash })
        else console.log(`recorded ${reports.length} canary reports (tx ${receipt.hash})`)
        return 0
      }
      if (a.sub === 'claim') {
        const account = a.account ?? chain.address
        const now = (await reader.provider.getBlock('latest'))?.timestamp ?? 0
        const last = lastClosedEpoch(reader.config, now)
        const epochs = a.epoch !== undefined ? [a.epoch] : Array.from({ length: Math.max(0, last + 1) }, (_, i) => i)
        const paid: Array<{ epoch: number, amount: bigint, tx: string }> = []
        for (const e of epochs) {
          const final = await reader.contract.epochs(e)
          if (final.finalizedAt === 0n || final.expired) { if (a.epoch !== undefined) throw new UserError(`epoch ${e} has no final root to claim against${final.expired ? ' any more (its claim window passed)' : ''}`, { hint: '"lilypad rewards status --epoch N" shows its proposals' }); continue }
          if (await client.claimed(e, account)) { if (a.epoch !== undefined) throw new UserError(`${account} already claimed epoch ${e}`); continue }
          const c = await computeEpoch(reader, e)
          if (c.tree === undefined || c.tree.root !== final.root) throw new RootMismatchError(`epoch ${e}: the final root is ${final.root}, the chain's facts give ${c.tree?.root ?? 'no root'}`)
          const amount = c.tree.amountOf(account)
          if (amount === undefined) { if (a.epoch !== undefined) throw new UserError(`${account} earned nothing in epoch ${e}`, { hint: '"lilypad rewards compute --epoch N" shows why' }); continue }
          const receipt = await client.claim(e, account, amount, c.tree.proof(account))
          paid.push({ epoch: e, amount, tx: receipt.hash })
        }
        const total = paid.reduce((s, p) => s + p.amount, 0n)
        if (a.json) jsonOut({ account, claimed: paid.map(p => ({ ...p, amountLP: formatLP(p.amount) })), total, totalLP: formatLP(total) })
        else {
          for (const p of paid) console.log(`epoch ${p.epoch}: ${lp(p.amount)} to ${account} (tx ${p.tx})`)
          console.log(paid.length === 0 ? `nothing to claim for ${account}` : `claimed ${lp(total)} in all`)
        }
        return 0
      }
      const c = await computeEpoch(reader, a.epoch)
      if (c.tree === undefined) throw new UserError(`epoch ${c.rewards.epoch} rewards nobody: there is no root`)
      const tree = c.tree
      if (a.sub === 'finalize') {
        const receipt = await client.finalize(tree)
        if (a.json) jsonOut({ epoch: tree.epoch, root: tree.root, total: tree.total, tx: receipt.hash })
        else console.log(`epoch ${tree.epoch}: root ${tree.root} is final, ${lp(tree.total)} to claim (tx ${receipt.hash})`)
        return 0
      }
      // publish: approve our own root, veto every other proposal for the epoch
      const actions: string[] = []
      const me = chain.address
      const voted = async (root: string, total: bigint): Promise<boolean> => await client.contract.votedBy(tree.epoch, await client.contract.proposalKey(root, total), me)
      if (!await voted(tree.root, tree.total)) { await client.proposeRoot(tree); actions.push(`proposed ${tree.root} (${lp(tree.total)})`) }
      for (const e of await client.contract.queryFilter(client.contract.filters.RootProposed(tree.epoch))) {
        const { root, total } = (e as unknown as { args: { root: string, total: bigint } }).args
        if (root === tree.root && total === tree.total) continue
        if (await voted(root, total)) continue
        await client.vetoRoot(tree.epoch, root, total)
        actions.push(`vetoed ${root} (${lp(total)}): not the root computed here`)
      }
      if (a.json) jsonOut({ epoch: tree.epoch, root: tree.root, total: tree.total, actions })
      else {
        console.log(`epoch ${tree.epoch}: root ${tree.root}, ${lp(tree.total)}`)
        for (const x of actions.length === 0 ? ['nothing to do: already voted on every proposal'] : actions) console.log(`  ${x}`)
      }
      return 0
    } finally {
      await chain.stop()
    }
  } finally {
    reader.stop()
  }
}
