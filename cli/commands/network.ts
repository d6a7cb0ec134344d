import { parseArgs } from 'node:util'
import { mkdir, writeFile, readFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Command } from '../command.ts'
import { UserError } from '../errors.ts'
import { usageError, parseLP, formatLP, looksLikeAddress } from '../usage.ts'
import type { NetworkFile } from '../../node/config/network.ts'
import { COMMITTEE_OPTIONS, COMMITTEE_USAGE, parseCommitteeFlags, committeeRulesOf, describeCommitteeRules } from '../committee-flags.ts'

const USAGE = `lilypad network init <id> [--rpc URL] [--out DIR] (--deploy --key-env VAR [--bridge ADDR …] [--module-price NAME=LP …] ${COMMITTEE_USAGE} | --contracts-from NETWORK_FILE) [--bootstrap MULTIADDR …] [--mediator ADDR …] [--open]
  lilypad network add-chain <network> --rpc URL [--name NAME] (--deploy --key-env VAR [--bridge ADDR …] [--module-price NAME=LP …] ${COMMITTEE_USAGE} | --contracts-from NETWORK_FILE) [--mediator ADDR …]
  add-chain: the network (a name or a network file) settles on one more chain, deployed there or taken from another network file's first chain (docs/multichain.md)\n  --committee-size K: a dispute of a deal naming three mediators or more is judged by a committee of up to K of them (odd, 1..9, default 3; 1: one drawn mediator). Unset windows, bond and slash follow from the deal windows (docs/operators.md, "Running a mediator")`

export const network: Command = {
  name: 'network',
  summary: 'Create a new private network (swarm key, network file, contracts), or add a chain to one',
  usage: USAGE,
  async run (argv) {
    let v
    try {
      v = parseArgs({
        args: argv,
        allowPositionals: true,
        options: { rpc: { type: 'string' }, name: { type: 'string' }, out: { type: 'string' }, deploy: { type: 'boolean' }, 'key-env': { type: 'string' }, 'contracts-from': { type: 'string' }, bootstrap: { type: 'string', multiple: true }, mediator: { type: 'string', multiple: true }, bridge: { type: 'string', multiple: true }, 'module-price': { type: 'string', multiple: true }, open: { type: 'boolean' }, ...COMMITTEE_OPTIONS }
      })
    } catch (err) { throw usageError((err as Error).message, USAGE) }
    const [sub, id, ...extra] = v.positionals
    if (sub !== 'init' && sub !== 'add-chain') throw usageError(sub === undefined ? 'missing the subcommand "init" or "add-chain"' : `unknown subcommand "${sub}"`, USAGE)
    const adding = sub === 'add-chain'
    if (id === undefined || extra.length > 0) throw usageError(adding ? 'give exactly one network (a name or a network file)' : 'give exactly one network id', USAGE)
    if (!adding && !/^[a-z0-9][a-z0-9-]{0,31}$/.test(id)) throw usageError(`network id "${id}" must be lowercase letters, digits and dashes (it is the protocol prefix)`, USAGE)
    const o = v.values
    if (adding) {
      if (o.rpc === undefined) throw usageError('add-chain needs --rpc URL, the new chain\'s RPC', USAGE)
      for (const flag of ['out', 'bootstrap', 'open'] as const) if (o[flag] !== undefined) throw usageError(`--${flag} belongs to "network init": a chain added keeps the network's mesh`, USAGE)
      if (o.name !== undefined && !/^[a-z][a-z0-9-]{0,31}$/.test(o.name)) throw usageError(`--name "${o.name.slice(0, 40)}" must start with a letter and be lowercase letters, digits and dashes`, USAGE)
    } else if (o.name !== undefined) throw usageError('--name names a chain added with "network add-chain"', USAGE)
    if (o.deploy === true && o['contracts-from'] !== undefined) throw usageError('--deploy and --contracts-from exclude each other', USAGE)
    if (o.deploy !== true && o['contracts-from'] === undefined) throw usageError('a network needs contracts: --deploy --key-env VAR, or --contracts-from FILE', USAGE)
    const committeeFlags = Object.keys(COMMITTEE_OPTIONS).filter(k => o[k as keyof typeof COMMITTEE_OPTIONS] !== undefined)
    if (o.deploy !== true && committeeFlags.length > 0) throw usageError(`--${committeeFlags[0]}: committee rules are fixed when the Market is deployed; they go with --deploy (--contracts-from uses the deployed Market's)`, USAGE)
    // the issue's default: committees of three wherever a deal names three mediators or more
    const committee = parseCommitteeFlags(o, USAGE, 3)
    for (const [flag, list] of [['--mediator', o.mediator], ['--bridge', o.bridge]] as const) {
      for (const a of (list ?? []).flatMap(x => x.split(',')).map(x => x.trim()).filter(Boolean)) if (!looksLikeAddress(a)) throw usageError(`${flag} "${a}" is not an Ethereum address`, USAGE)
    }
    // modules contracts may request, with their price: NAME=LP (e.g. cowsay:v0.0.1=2)
    const modulePrices: Record<string, bigint> = {}
    for (const spec of o['module-price'] ?? []) {
      const eq = spec.lastIndexOf('=')
      const lp = eq > 0 ? spec.slice(eq + 1) : ''
      if (!/^\d+(\.\d{1,18})?$/.test(lp) || Number(lp) === 0) throw usageError(`--module-price ${spec}: expected NAME=LP with a positive amount, e.g. cowsay:v0.0.1=2`, USAGE)
      modulePrices[spec.slice(0, eq)] = parseLP(lp)
    }
    const { toUserError } = await import('../context.ts')
    const { lilypadHome, parseNetworkFile, parsePrivateKey, parseAddressList } = await import('../../node/config/load.ts')
    const { writeSwarmKeyFile } = await import('../../node/host/keys.ts')
    const { deployAll, defaultMarketBounds } = await import('../../contracts/deploy.ts')
    const { defaultDealTerms } = await import('../../protocols/negotiation/messages.ts')
    const committeeRules = await committeeRulesOf(committee, defaultMarketBounds, defaultDealTerms.mediateTimeout)
    const { loadNetwork } = await import('../../node/config/load.ts')
    const { chainsOf, firstChainOf, networkFileJson, withChain } = await import('../../node/config/chains.ts')
    // the file as written: the environment's overrides (WEB3_RPC_URL…) are not baked into it
    const existing = adding ? await loadNetwork(id, { ...process.env, WEB3_RPC_URL: '', WEB3_CHAIN_ID: '', SERVICE_MEDIATORS: '' }).catch(err => { throw toUserError(err) }) : undefined
    const networkId = existing?.network.networkId ?? id
    const out = resolve(o.out ?? join(lilypadHome(), 'networks'))
    const file = existing?.path ?? join(out, `${networkId}.json`)
    if (!adding && existsSync(file)) throw new UserError(`${file} already exists`, { hint: 'choose another id or --out directory (to add a chain to it: "lilypad network add-chain")' })
    let mediators: string[] = []
    let bridges: string[] = []
    try {
      mediators = parseAddressList((o.mediator ?? []).join(','), '--mediator')
      bridges = parseAddressList((o.bridge ?? []).join(','), '--bridge')
    } catch (err) { throw usageError((err as Error).message, USAGE) }
    let net: NetworkFile
    try {
      if (o.deploy === true) {
        if (o['key-env'] === undefined) throw usageError('--deploy needs --key-env VAR (the deployer key is read from that variable, never from a flag)', USAGE)
        if (o.rpc === undefined) throw usageError('--deploy needs --rpc URL', USAGE)
        const wallet = parsePrivateKey(process.env[o['key-env']], o['key-env'])
        if (existing !== undefined) await refuseKnownChain(o.rpc, existing.network, chainsOf)
        const d = await deployAll({ rpcUrl: o.rpc, privateKey: wallet.privateKey, networkId, mediators, bridges, modulePrices, bootstrap: o.bootstrap ?? [], marketBounds: defaultMarketBounds, committeeRules })
        net = { ...d.network, rpcUrl: o.rpc }
      } else {
        const src = resolve(o['contracts-from'] as string)
        const base = parseNetworkFile(await readFile(src, 'utf8'), src)
        net = { ...base, networkId, rpcUrl: o.rpc ?? base.rpcUrl, bootstrap: o.bootstrap ?? [], ...(mediators.length > 0 ? { mediators } : {}) }
        delete net.swarmKeyPath
      }
    } catch (err) { throw toUserError(err) }
    if (existing !== undefined) {
      // the network's mesh, swarm key and deal terms stay; the new chain brings its contracts, RPC and mediators
      const chain = { ...firstChainOf(net), ...(o.name !== undefined ? { name: o.name } : {}) }
      const known = chainsOf(existing.network)
      if (known.some(c => c.chainId === chain.chainId)) throw new UserError(`the network "${networkId}" already settles on chain ${chain.chainId}`, { hint: 'each chain once; its RPC URLs (failover) go in its "rpcUrls" in the network file', exitCode: 2 })
      if (chain.name !== undefined && known.some(c => c.name === chain.name)) throw new UserError(`the network "${networkId}" already has a chain named "${chain.name}"`, { hint: 'choose another --name', exitCode: 2 })
      await writeFile(file, JSON.stringify(networkFileJson(withChain(existing.network, chain)), null, 2) + '\n')
      console.log(`chain ${chain.chainId}${chain.name !== undefined ? ` (${chain.name})` : ''} added to the network "${networkId}" in ${file}: it settles on ${known.length + 1} chains`)
      if (o.deploy === true) console.log(`mediation: ${describeCommitteeRules(committeeRules)}`)
      return 0
    }
    await mkdir(out, { recursive: true })
    if (o.open !== true) {
      await writeSwarmKeyFile(join(out, `${id}.swarm.key`))
      net.swarmKeyPath = `${id}.swarm.key`
    }
    await writeFile(file, JSON.stringify(networkFileJson(net), null, 2) + '\n')
    console.log(`network "${id}" written to ${file}${o.open === true ? '' : `\nswarm key: ${join(out, `${id}.swarm.key`)} (share it only with the network's members)`}`)
    if (o.deploy === true) {
      console.log(`mediation: ${describeCommitteeRules(committeeRules)}`)
      if (committeeRules.size > 1) console.log(`  a deal naming three mediators or more is agreed only if each has bonded ${formatLP(committeeRules.minBond)} LP: each runs "lilypad mediator bond <LP> --network ${id}"`)
    }
    return 0
  }
}

/** Before deploying: the RPC must not serve a chain the network already settles on (a deploy there is money spent for nothing). */
async function refuseKnownChain (rpcUrl: string, network: NetworkFile, chainsOf: (n: NetworkFile) => Array<{ chainId: number }>): Promise<void> {
  const { JsonRpcProvider } = await import('ethers')
  const provider = new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true, batchMaxCount: 1 })
  let chainId: number
  try {
    chainId = Number(await provider.send('eth_chainId', []))
  } catch (err) {
    throw new UserError(`the RPC ${rpcUrl} does not answer: ${(err as Error).message}`, { hint: 'check --rpc' })
  } finally {
    provider.destroy()
  }
  if (chainsOf(network).some(c => c.chainId === chainId)) throw new UserError(`the network "${network.networkId}" already settles on chain ${chainId} (the chain at ${rpcUrl})`, { hint: 'each chain once; its RPC URLs (failover) go in its "rpcUrls" in the network file', exitCode: 2 })
}
