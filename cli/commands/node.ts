import { parseArgs } from 'node:util'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Command } from '../command.ts'
import { usageError, parseLP } from '../usage.ts'
import { parseRoles, type RoleName } from '../../node/role-names.ts'
import type { ProviderFault } from '../../node/roles/resource-provider.ts'
import { stopRequested } from '../signals.ts'

const PROVIDER_FAULTS: readonly string[] = ['wrong-result', 'withheld-result', 'unserved-result'] satisfies readonly ProviderFault[]
const USAGE = 'lilypad node --roles resource-provider,solver,mediator,job-bridge,directory,validator [--network N] [--data-dir DIR] [--listen MULTIADDR …] [--announce MULTIADDR …] [--relay] [--executor docker|swarm] [--slots N] [--max-slots N] [--price LP] [--collateral LP] [--input-allow CIDR …] [--input-ca PEM-FILE …] [--fault wrong-result|withheld-result|unserved-result] [--metrics PORT] [--gateway PORT] [--api PORT | --no-api] [--ui] [--log-level LEVEL]   (--roles none: only the job API)'

async function runNode (argv: string[], fixedRoles?: RoleName[]): Promise<number> {
  let v
  try {
    v = parseArgs({
      args: argv,
      options: {
        roles: { type: 'string' }, network: { type: 'string', short: 'n' }, 'data-dir': { type: 'string' }, listen: { type: 'string', multiple: true },
        announce: { type: 'string', multiple: true }, relay: { type: 'boolean' },
        executor: { type: 'string' }, slots: { type: 'string' }, 'max-slots': { type: 'string' }, price: { type: 'string' }, collateral: { type: 'string' }, fault: { type: 'string' },
        'input-allow': { type: 'string', multiple: true }, 'input-ca': { type: 'string', multiple: true },
        metrics: { type: 'string' }, gateway: { type: 'string' }, api: { type: 'string' }, 'no-api': { type: 'boolean' }, ui: { type: 'boolean' }, 'log-level': { type: 'string' }
      }
    })
  } catch (err) { throw usageError((err as Error).message, USAGE) }
  const o = v.values
  let roles: RoleName[]
  if (fixedRoles === undefined && o.roles === undefined) throw usageError('name at least one role with --roles, or --roles none for a node that only runs your jobs through its API', USAGE)
  try { roles = fixedRoles ?? (o.roles?.trim() === 'none' ? [] : parseRoles(o.roles ?? '')) } catch (err) { throw usageError((err as Error).message, USAGE) }
  const slots = o.slots === undefined ? undefined : Number(o.slots)
  if (slots !== undefined && !(Number.isInteger(slots) && slots >= 1)) throw usageError('--slots must be a positive integer', USAGE)
  // swarm: jobs run as one-shot services on the Docker Swarm the engine (DOCKER_HOST) manages (docs/operators.md)
  const executorKind = o.executor ?? 'docker'
  if (executorKind !== 'docker' && executorKind !== 'swarm') throw usageError(`--executor must be docker (this machine's engine) or swarm (a Docker Swarm cluster), not "${executorKind}"`, USAGE)
  const maxSlots = o['max-slots'] === undefined ? undefined : Number(o['max-slots'])
  if (maxSlots !== undefined && !(Number.isInteger(maxSlots) && maxSlots >= 1)) throw usageError('--max-slots must be a positive integer', USAGE)
  if (maxSlots !== undefined && executorKind !== 'swarm') throw usageError('--max-slots bounds a cluster provider\'s slots: it goes with --executor swarm', USAGE)
  const lp = (flag: string, s: string | undefined): bigint | undefined => {
    if (s === undefined) return undefined
    try { return parseLP(s) } catch { throw usageError(`${flag} "${s}" is not an LP amount`, USAGE) }
  }
  const price = lp('--price', o.price)
  const collateral = lp('--collateral', o.collateral)
  if (o.fault !== undefined && !PROVIDER_FAULTS.includes(o.fault)) throw usageError('--fault must be wrong-result (tampered output), withheld-result (a CID of nothing) or unserved-result (the right CID, not served)', USAGE)
  if (o.listen !== undefined || o.announce !== undefined) {
    const { multiaddr } = await import('@multiformats/multiaddr')
    for (const [flag, list] of [['--listen', o.listen], ['--announce', o.announce]] as const) {
      for (const a of list ?? []) {
        try { multiaddr(a) } catch (err) { throw usageError(`${flag} "${a}" is not a multiaddr (${(err as Error).message})`, USAGE) }
      }
    }
  }
  // ranges a job's URL inputs may come from although they are private (the operator's own LAN, a local mirror)
  const allowAddresses = o['input-allow'] ?? []
  if (allowAddresses.length > 0) {
    const { checkAddressRanges } = await import('../../node/inputs/address.ts')
    try { checkAddressRanges(allowAddresses) } catch (err) { throw usageError(`--input-allow: ${(err as Error).message}`, USAGE) }
  }
  // authorities trusted for https inputs besides the system's (an internal mirror with its own CA)
  const trustedCa: string[] = []
  for (const f of o['input-ca'] ?? []) {
    let pem: string
    try { pem = await readFile(f, 'utf8') } catch (err) { throw usageError(`--input-ca ${f}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, USAGE) }
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw usageError(`--input-ca ${f}: not a PEM certificate file`, USAGE)
    trustedCa.push(pem)
  }
  const inputPolicy = { ...(allowAddresses.length > 0 ? { allowAddresses } : {}), ...(trustedCa.length > 0 ? { trustedCa } : {}) }
  const metricsPort = o.metrics === undefined ? undefined : Number(o.metrics)
  if (metricsPort !== undefined && !(Number.isInteger(metricsPort) && metricsPort >= 0 && metricsPort < 65536)) throw usageError('--metrics must be a TCP port number', USAGE)
  const gatewayPort = o.gateway === undefined ? undefined : Number(o.gateway)
  if (gatewayPort !== undefined && !(Number.isInteger(gatewayPort) && gatewayPort >= 0 && gatewayPort < 65536)) throw usageError('--gateway must be a TCP port number', USAGE)
  const apiPort = o.api === undefined ? 0 : Number(o.api)
  if (!(Number.isInteger(apiPort) && apiPort >= 0 && apiPort < 65536)) throw usageError('--api must be a TCP port number (0: any free port)', USAGE)
  if (o.api !== undefined && o['no-api'] === true) throw usageError('--api and --no-api exclude each other', USAGE)
  if (o.ui === true && o['no-api'] === true) throw usageError('--ui serves the console from the API: it cannot go with --no-api', USAGE)
  const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
  const level = o['log-level']
  if (level !== undefined && !(LEVELS as readonly string[]).includes(level)) throw usageError(`--log-level must be one of ${LEVELS.join(', ')}`, USAGE)
  const { startUserNode } = await import('../../node/api/user-node.ts')
  const { serveMetrics } = await import('../../node/observability/metrics.ts')
  const { serveGateway } = await import('../../node/result-store/gateway.ts')
  const { resolveNetworkAndKey, toUserError, lilypadHome } = await import('../context.ts')
  const { loaded, wallet, isDevnet } = await resolveNetworkAndKey(o.network)
  const dataDir = o['data-dir'] ?? join(lilypadHome(), 'nodes', loaded.network.networkId, wallet.address.toLowerCase())
  // listened for before anything starts: a stop asked during start-up (or right after the banner) stops cleanly
  const stop = stopRequested()
  let user: Awaited<ReturnType<typeof startUserNode>>
  try {
    user = await startUserNode({
      home: lilypadHome(), api: o['no-api'] === true ? false : { port: apiPort, ...(o.ui === true ? { console: true } : {}) },
      network: loaded.network, networkPath: loaded.path, privateKey: wallet.privateKey, dataDir, roles, local: isDevnet,
      ...(o.listen !== undefined ? { listen: o.listen } : {}),
      ...(Object.keys(inputPolicy).length > 0 ? { inputPolicy } : {}),
      host: { ...(o.relay === true ? { relay: true } : {}), ...(o.announce !== undefined ? { announce: o.announce } : {}) },
      executorKind,
      provider: { ...(slots !== undefined ? { slots } : {}), ...(maxSlots !== undefined ? { maxSlots } : {}), ...(price !== undefined ? { price } : {}), ...(collateral !== undefined ? { collateral } : {}), ...(o.fault !== undefined ? { fault: o.fault as ProviderFault } : {}) },
      // logs to stderr: a status line a minute, every failure with its reason; `node` names it on every line
      components: { logger: { ...(level !== undefined ? { level: level as typeof LEVELS[number] } : {}), base: { node: roles.length > 0 ? roles.join(',') : 'jobs' } } }
    })
  } catch (err) { throw toUserError(err) }
  const node = user.node
  const { reportUnhandledRejections } = await import('../../node/runtime.ts')
  reportUnhandledRejections(node.components)
  let metricsServer: Awaited<ReturnType<typeof serveMetrics>> | undefined
  let gateway: Awaited<ReturnType<typeof serveGateway>> | undefined
  try {
    if (metricsPort !== undefined) metricsServer = await serveMetrics(node.components.metrics, { port: metricsPort })
    // read-only, loopback: the results this node holds at /ipfs/<CID>/<path> (node/result-store/gateway.ts)
    if (gatewayPort !== undefined) gateway = await serveGateway(node.store, { port: gatewayPort })
  } catch (err) { await metricsServer?.close(); await user.stop(); throw toUserError(err) }
  console.error(`lilypad node ${roles.length > 0 ? roles.join(',') : '(jobs only)'} on ${loaded.network.networkId} as ${wallet.address}\n  peer ${node.host.peerId.toString()}\n  ${node.host.getMultiaddrs().map(String).join('\n  ')}${metricsServer !== undefined ? `\n  metrics ${metricsServer.url}` : ''}${gateway !== undefined ? `\n  gateway ${gateway.url}` : ''}${user.api !== undefined ? `\n  api ${user.api.url}/v1 (token in ${join(dataDir, 'api-token')})` : ''}${user.consoleUrl !== undefined ? `\n  console ${user.consoleUrl}` : ''}\nCtrl-C stops it.`)
  await stop
  console.error('stopping…')
  await metricsServer?.close()
  await gateway?.close()
  await user.stop()
  return 0
}

export const node: Command = { name: 'node', summary: 'Run a node with the given roles', usage: USAGE, run: async argv => await runNode(argv) }

function shortcut (role: RoleName, summary: string): Command {
  return { name: role, summary: `${summary} (= node --roles ${role})`, usage: USAGE.replace('node --roles resource-provider,solver,mediator,job-bridge,directory,validator', role), run: async argv => await runNode(argv, [role]) }
}

export const resourceProvider = shortcut('resource-provider', 'Offer this machine\'s compute')
export const solver = shortcut('solver', 'Match job offers to resource offers')
export const mediator = shortcut('mediator', 'Re-run challenged jobs and post verdicts')
export const jobBridge = { ...shortcut('job-bridge', 'Run jobs ordered by contracts (the on-chain job bridge)'), aliases: ['jobcreator'] }
