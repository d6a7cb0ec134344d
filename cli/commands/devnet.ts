import { parseArgs } from 'node:util'
import type { Command } from '../command.ts'
import { UserError } from '../errors.ts'
import { usageError, formatLP } from '../usage.ts'
import { stopRequested } from '../signals.ts'
import { parseCommitteeFlags, describeCommitteeRules } from '../committee-flags.ts'

const USAGE = 'lilypad devnet [--port N] [--slots N] [--chains N] [--mediators N] [--committee-size K] [--no-mediator] [--no-bridge] [--metrics PORT] [--ui]\n  lilypad devnet stop\n  --ui: also run the CLI user\'s node (its jobs API, which "lilypad run" then goes through) with the web console, and print the console\'s address\n  --mediators N: run N mediators (1 to 9, default 1; at least K); --committee-size K: disputes judged by committees of K (odd, 1 to 9, default 1: one drawn mediator), every mediator bonded\n  --chains N: settle on N chains (1 to 4, default 1), each its own anvil (chain ids 1337, 1338, …) with the contracts and funded accounts; one provider serves them all from one pool of slots ("lilypad run --chain ID", docs/multichain.md)'

async function stop (): Promise<number> {
  const { runningDevnet } = await import('../../node/devnet.ts')
  const m = await runningDevnet()
  if (m === undefined) { console.error('no devnet is running'); return 0 }
  process.kill(m.pid, 'SIGTERM')
  const deadline = Date.now() + 20_000
  for (;;) {
    try { process.kill(m.pid, 0) } catch { console.error(`devnet (pid ${m.pid}) stopped`); return 0 }
    if (Date.now() > deadline) throw new UserError(`the devnet (pid ${m.pid}) did not stop`, { hint: `kill ${m.pid}` })
    // polling another process's exit: there is no event for it
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

/** The devnet's further chains, one line each (none on a one-chain devnet). */
function furtherChains (d: { network: import('../../node/config/network.ts').NetworkFile, anvils: Array<{ chainId: number, rpcUrl: string }> }): string {
  return d.anvils.slice(1).map(a => `\n  RPC            ${a.rpcUrl}   chain id ${a.chainId} (devnet-${a.chainId}: "lilypad run --chain ${a.chainId}")`).join('')
}

export const devnet: Command = {
  name: 'devnet',
  summary: 'Run a local network: anvil (chain id 1337), contracts, funded accounts, a provider, a mediator, a job bridge',
  usage: USAGE,
  async run (argv) {
    let v
    try {
      v = parseArgs({ args: argv, allowPositionals: true, options: { port: { type: 'string' }, slots: { type: 'string' }, chains: { type: 'string' }, mediators: { type: 'string' }, 'committee-size': { type: 'string' }, 'no-mediator': { type: 'boolean' }, 'no-bridge': { type: 'boolean' }, metrics: { type: 'string' }, ui: { type: 'boolean' } } })
    } catch (err) { throw usageError((err as Error).message, USAGE) }
    if (v.positionals[0] === 'stop') return await stop()
    if (v.positionals.length > 0) throw usageError(`unknown argument "${v.positionals[0]}"`, USAGE)
    const port = v.values.port === undefined ? undefined : Number(v.values.port)
    if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65536)) throw usageError('--port must be a TCP port number', USAGE)
    const slots = v.values.slots === undefined ? undefined : Number(v.values.slots)
    if (slots !== undefined && !(Number.isInteger(slots) && slots >= 1)) throw usageError('--slots must be a positive integer', USAGE)
    const chains = v.values.chains === undefined ? 1 : /^\d+$/.test(v.values.chains.trim()) ? Number(v.values.chains) : NaN
    if (!(Number.isInteger(chains) && chains >= 1 && chains <= 4)) throw usageError(`--chains "${String(v.values.chains).slice(0, 20)}" must be a whole number from 1 to 4`, USAGE)
    const committee = parseCommitteeFlags({ 'committee-size': v.values['committee-size'] }, USAGE, 1)
    const mediators = v.values.mediators === undefined ? committee.size : /^\d+$/.test(v.values.mediators.trim()) ? Number(v.values.mediators) : NaN
    if (!(Number.isInteger(mediators) && mediators >= 1 && mediators <= 9)) throw usageError(`--mediators "${String(v.values.mediators).slice(0, 20)}" must be a whole number from 1 to 9`, USAGE)
    if (mediators < committee.size) throw usageError(`--committee-size ${committee.size} needs at least ${committee.size} mediators, not ${mediators}: give --mediators ${committee.size} or more (or leave it out)`, USAGE)
    if (v.values['no-mediator'] === true && (v.values.mediators !== undefined || committee.size > 1)) throw usageError('--no-mediator runs no mediator: it cannot go with --mediators or --committee-size', USAGE)
    const metricsPort = v.values.metrics === undefined ? undefined : Number(v.values.metrics)
    if (metricsPort !== undefined && !(Number.isInteger(metricsPort) && metricsPort >= 0 && metricsPort < 65536)) throw usageError('--metrics must be a TCP port number', USAGE)
    const { startDevnet, runningDevnet, DEVNET_CHAIN_ID, DEVNET_KEYS } = await import('../../node/devnet.ts')
    const { devKey } = await import('../../node/chain/anvil.ts')
    const { Wallet } = await import('ethers')
    const { toUserError } = await import('../context.ts')
    const running = await runningDevnet()
    if (running !== undefined) throw new UserError(`a devnet is already running (pid ${running.pid}, ${running.rpcUrl})`, { hint: 'use it, or stop it with "lilypad devnet stop"' })
    // listened for before anything starts: a stop asked during start-up (or right after the banner) stops cleanly
    const stopAsked = stopRequested()
    let d
    try {
      d = await startDevnet({ ...(port !== undefined ? { port } : {}), ...(slots !== undefined ? { slots } : {}), chains, mediator: v.values['no-mediator'] !== true, bridge: v.values['no-bridge'] !== true, mediators, committee: { size: committee.size } })
    } catch (err) { throw toUserError(err) }
    const { reportUnhandledRejections } = await import('../../node/runtime.ts')
    reportUnhandledRejections(d.components)
    const { serveMetrics } = await import('../../node/observability/metrics.ts')
    let metrics: Awaited<ReturnType<typeof serveMetrics>> | undefined
    try {
      if (metricsPort !== undefined) metrics = await serveMetrics(d.components.metrics, { port: metricsPort })
    } catch (err) { await d.stop(); throw toUserError(err) }
    const user = new Wallet(devKey(DEVNET_KEYS.user)).address
    // the CLI user's own node (as "lilypad node --roles none --ui" would start it), in the data dir the CLI looks in
    let userNode: Awaited<ReturnType<typeof import('../../node/api/user-node.ts').startUserNode>> | undefined
    if (v.values.ui === true) {
      const { startUserNode } = await import('../../node/api/user-node.ts')
      const { lilypadHome } = await import('../context.ts')
      const { join } = await import('node:path')
      try {
        userNode = await startUserNode({
          home: lilypadHome(), network: d.network, networkPath: d.networkPath, privateKey: devKey(DEVNET_KEYS.user),
          dataDir: join(lilypadHome(), 'nodes', d.network.networkId, user.toLowerCase()), roles: [], local: true,
          api: { port: 0, console: true }, components: { logger: { base: { node: 'console' } } }
        })
      } catch (err) { await metrics?.close(); await d.stop(); throw toUserError(err) }
    }
    const bridge = new Wallet(devKey(DEVNET_KEYS.bridge)).address
    console.log(`Lilypad devnet ready in ${(d.readyMs / 1000).toFixed(2)} s
  network file   ${d.networkPath}
  RPC            ${d.network.rpcUrl}   chain id ${DEVNET_CHAIN_ID}${furtherChains(d)}
  contracts      market ${d.network.contracts.market}  token (LP) ${d.network.contracts.token}
  faucet         ${d.network.contracts.faucet ?? '-'}   ("lilypad faucet --address <you>")
  provider       ${d.provider.chain.address} (${d.provider.provider?.capacity.freeSlots().length ?? 0} slots)
  mediator${d.mediators.length > 1 ? 's ' : '  '}     ${d.network.mediators?.join(', ')}${d.mediator === undefined ? ' (registered; mediator role not running)' : ''}
  mediation      ${describeCommitteeRules(d.committeeRules)}${d.committeeRules.size > 1 ? `; each mediator bonded ${formatLP(d.committeeRules.minBond * 5n)} LP ("lilypad mediator status")` : ''}
  job manager    ${d.network.contracts.jobManager}   example client ${d.network.contracts.exampleClient ?? '-'}
  job bridge     ${bridge} (anvil dev key #${DEVNET_KEYS.bridge}: approved, bonded, funded; ${d.bridge !== undefined ? 'running: contracts\' jobs run' : 'not running (--no-bridge)'}; docs/contracts-quickstart.md)
  CLI user       ${user} (anvil dev key #${DEVNET_KEYS.user}, used by "lilypad run" when WEB3_PRIVATE_KEY is unset)${metrics !== undefined ? `\n  metrics        ${metrics.url}` : ''}${userNode?.consoleUrl !== undefined ? `\n  console        ${userNode.consoleUrl}   (the CLI user's node: its jobs API, "lilypad run" goes through it)` : ''}

MetaMask: Add network manually
  Network name     Lilypad devnet
  New RPC URL      ${d.network.rpcUrl}
  Chain ID         ${DEVNET_CHAIN_ID}
  Currency symbol  ETH

Try: ./lilypad run cowsay:v0.0.1 -i Message=moo      Ctrl-C stops the devnet.`)
    await stopAsked
    console.error('stopping the devnet…')
    await userNode?.stop()
    await metrics?.close()
    await d.stop()
    return 0
  }
}
