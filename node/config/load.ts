// Resolves what a node or a CLI command runs against: the network file, the Ethereum key and the overrides
// Lilypad v2 users know from the environment (WEB3_PRIVATE_KEY, WEB3_RPC_URL, WEB3_CHAIN_ID, SERVICE_MEDIATORS).
// Every input is parsed here, at the edge, into typed values with named errors; nothing unparsed goes inward.
import { readFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join, resolve, isAbsolute } from 'node:path'
import { isAddress, localKey, toAddress, type LocalKey } from './key.ts'
import { multiaddr } from '@multiformats/multiaddr'
import type { NetworkChain, NetworkFile, NetworkMesh } from './network.ts'
import { networkOfChains } from './chains.ts'
import { setupFromJson, setupToJson } from '../../protocols/incentives/config.ts'

export class NetworkNotFoundError extends Error {
  static override name = 'NetworkNotFoundError'
  override name = 'NetworkNotFoundError'
}
export class NetworkFileError extends Error {
  static override name = 'NetworkFileError'
  override name = 'NetworkFileError'
}
export class InvalidPrivateKeyError extends Error {
  static override name = 'InvalidPrivateKeyError'
  override name = 'InvalidPrivateKeyError'
}
export class InvalidSettingError extends Error {
  static override name = 'InvalidSettingError'
  override name = 'InvalidSettingError'
}

export const DEFAULT_NETWORK = 'devnet'

/** Where networks, keys and node state live unless told otherwise. */
export function lilypadHome (env: NodeJS.ProcessEnv = process.env): string {
  return env.LILYPAD_HOME ?? join(homedir(), '.lilypad')
}

export function networkPath (name: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(lilypadHome(env), 'networks', `${name}.json`)
}

const NETWORK_ID = /^[a-z0-9][a-z0-9-]{0,31}$/

function field<T> (obj: Record<string, unknown>, key: string, check: (v: unknown) => v is T, what: string, where: string): T {
  const v = obj[key]
  if (!check(v)) throw new NetworkFileError(`${where}: "${key}" must be ${what}`)
  return v
}
const isString = (v: unknown): v is string => typeof v === 'string' && v.length > 0
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const isAddr = (v: unknown): v is string => typeof v === 'string' && isAddress(v)
const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString)

/** Chain fields a network file gives per chain: at the top level (one chain) or in each entry of `chains`. */
const CHAIN_FIELDS = ['chainId', 'rpcUrl', 'rpcUrls', 'contracts', 'deployBlock', 'confirmations', 'explorerUrl', 'mediators', 'bridges', 'marketBounds', 'jobManagerConfig', 'rewards'] as const
const CHAIN_NAME = /^[a-z][a-z0-9-]{0,31}$/
const MAX_CHAINS = 16

/**
 * Parses and checks a network file's content; `where` names it in errors. A file gives its chain at the top level
 * (`chainId`, `rpcUrl`, `contracts`, …: one chain, as every file did before there were several) or a `chains`
 * list of such entries (each with an optional `name`), never both.
 */
export function parseNetworkFile (text: string, where: string): NetworkFile {
  let raw: unknown
  try { raw = JSON.parse(text) } catch (err) {
    throw new NetworkFileError(`${where}: not valid JSON (${(err as Error).message})`)
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new NetworkFileError(`${where}: must be a JSON object`)
  const o = raw as Record<string, unknown>
  const networkId = field(o, 'networkId', isString, 'a string', where)
  if (!NETWORK_ID.test(networkId)) throw new NetworkFileError(`${where}: "networkId" must be lowercase letters, digits and dashes (it is the protocol prefix)`)
  let chains: NetworkChain[]
  if (o.chains !== undefined) {
    const top = CHAIN_FIELDS.filter(k => o[k] !== undefined)
    if (top.length > 0) throw new NetworkFileError(`${where}: "chains" lists the network's chains, so ${top.map(k => `"${k}"`).join(', ')} belong in its entries, not beside it (give either one chain at the top level or a "chains" list)`)
    if (o.chainName !== undefined) throw new NetworkFileError(`${where}: "chainName" names the top-level chain; in a "chains" list each entry has a "name"`)
    if (!Array.isArray(o.chains) || o.chains.length === 0) throw new NetworkFileError(`${where}: "chains" must be a non-empty list of chains`)
    if (o.chains.length > MAX_CHAINS) throw new NetworkFileError(`${where}: "chains" lists ${o.chains.length} chains, at most ${MAX_CHAINS}`)
    chains = o.chains.map((entry: unknown, i) => {
      const at = `${where} chains[${i}]`
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw new NetworkFileError(`${at}: must be an object`)
      const e = entry as Record<string, unknown>
      const c = parseChain(e, at)
      if (e.name !== undefined) c.name = chainName(field(e, 'name', isString, 'a name', at), at)
      for (const k of Object.keys(e)) if (k !== 'name' && !(CHAIN_FIELDS as readonly string[]).includes(k)) throw new NetworkFileError(`${at}: unknown setting "${k}" (known: name, ${CHAIN_FIELDS.join(', ')})`)
      return c
    })
    const ids = new Set<number>()
    const names = new Set<string>()
    for (const [i, c] of chains.entries()) {
      if (ids.has(c.chainId)) throw new NetworkFileError(`${where} chains[${i}]: chain id ${c.chainId} is listed twice (each chain once, with all its RPC URLs in "rpcUrls")`)
      ids.add(c.chainId)
      if (c.name !== undefined) {
        if (names.has(c.name)) throw new NetworkFileError(`${where} chains[${i}]: the name "${c.name}" is given to two chains`)
        names.add(c.name)
      }
    }
  } else {
    const c = parseChain(o, where)
    if (o.chainName !== undefined) c.name = chainName(field(o, 'chainName', isString, 'a name', where), where)
    chains = [c]
  }
  const shared: NetworkFile = {
    networkId,
    chainId: 0,
    rpcUrl: '',
    contracts: chains[0].contracts,
    deployBlock: 0,
    bootstrap: o.bootstrap === undefined ? [] : field(o, 'bootstrap', isStringList, 'a list of multiaddrs', where).map(b => checkBootstrapAddr(b, where))
  }
  if (o.swarmKeyPath !== undefined) shared.swarmKeyPath = field(o, 'swarmKeyPath', isString, 'a path', where)
  if (o.dealTerms !== undefined) {
    const t = o.dealTerms as Record<string, unknown>
    if (t === null || typeof t !== 'object') throw new NetworkFileError(`${where}: "dealTerms" must be an object`)
    const terms: NonNullable<NetworkFile['dealTerms']> = {}
    for (const k of ['resultSlack', 'judgeWindow', 'mediateTimeout'] as const) if (t[k] !== undefined) terms[k] = field(t, k, isInt, 'a non-negative integer (seconds)', `${where} dealTerms`)
    if (t.mediationFee !== undefined) terms.mediationFee = field(t, 'mediationFee', (v): v is string => typeof v === 'string' && /^\d+$/.test(v), 'a decimal string of LP wei', `${where} dealTerms`)
    shared.dealTerms = terms
  }
  if (o.mesh !== undefined) shared.mesh = parseMesh(o.mesh, `${where} mesh`)
  const net = networkOfChains(shared, chains)
  // a one-chain network is held exactly as before there were several (writers that spread it write it back as it was)
  if (chains.length === 1) delete net.chains
  return net
}

function chainName (v: string, where: string): string {
  if (!CHAIN_NAME.test(v)) throw new NetworkFileError(`${where}: chain name "${v.slice(0, 40)}" must start with a letter and be lowercase letters, digits and dashes (it is what --chain takes)`)
  return v
}

function rpcUrlOf (v: string, where: string, key: string): string {
  let u: URL
  try { u = new URL(v) } catch { throw new NetworkFileError(`${where}: "${key}" is not a URL`) }
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(u.protocol)) throw new NetworkFileError(`${where}: "${key}" must be an http(s) or ws(s) URL, not ${u.protocol}`)
  return v
}

/** One chain's fields, from the top level of a file or from an entry of its `chains` list. */
function parseChain (o: Record<string, unknown>, where: string): NetworkChain {
  const contractsRaw = o.contracts
  if (contractsRaw === null || typeof contractsRaw !== 'object') throw new NetworkFileError(`${where}: "contracts" must be an object`)
  const c = contractsRaw as Record<string, unknown>
  const contracts: NetworkChain['contracts'] = {
    token: toAddress(field(c, 'token', isAddr, 'an address', `${where} contracts`)),
    market: toAddress(field(c, 'market', isAddr, 'an address', `${where} contracts`)),
    directory: toAddress(field(c, 'directory', isAddr, 'an address', `${where} contracts`)),
    jobManager: toAddress(field(c, 'jobManager', isAddr, 'an address', `${where} contracts`))
  }
  for (const opt of ['faucet', 'exampleClient', 'rewards'] as const) {
    if (c[opt] !== undefined) contracts[opt] = toAddress(field(c, opt, isAddr, 'an address', `${where} contracts`))
  }
  // rpcUrls: every endpoint, tried in order; rpcUrl alone: the one endpoint; both: rpcUrl must come first
  let rpcUrls: string[]
  if (o.rpcUrls !== undefined) {
    rpcUrls = field(o, 'rpcUrls', (v): v is string[] => isStringList(v) && v.length > 0, 'a non-empty list of URLs', where).map((u, i) => rpcUrlOf(u, where, `rpcUrls[${i}]`))
    if (new Set(rpcUrls).size !== rpcUrls.length) throw new NetworkFileError(`${where}: "rpcUrls" lists a URL twice`)
    if (o.rpcUrl !== undefined && o.rpcUrl !== rpcUrls[0]) throw new NetworkFileError(`${where}: "rpcUrl" must be the first of "rpcUrls" (or leave it out)`)
  } else {
    if (o.rpcUrl === undefined) throw new NetworkFileError(`${where}: "rpcUrl" must be a URL (or give "rpcUrls", a list tried in order)`)
    rpcUrls = [rpcUrlOf(field(o, 'rpcUrl', isString, 'a URL', where), where, 'rpcUrl')]
  }
  const chainId = field(o, 'chainId', isInt, 'a non-negative integer', where)
  const chain: NetworkChain = {
    chainId,
    rpcUrl: rpcUrls[0],
    rpcUrls,
    contracts,
    deployBlock: o.deployBlock === undefined ? 0 : field(o, 'deployBlock', isInt, 'a non-negative integer', where)
  }
  if (o.confirmations !== undefined) chain.confirmations = field(o, 'confirmations', isInt, 'a non-negative integer (blocks)', where)
  if (o.explorerUrl !== undefined) chain.explorerUrl = explorerUrl(field(o, 'explorerUrl', isString, 'a URL', where), where)
  if (o.mediators !== undefined) chain.mediators = field(o, 'mediators', (v): v is string[] => Array.isArray(v) && v.every(isAddr), 'a list of addresses', where).map(a => toAddress(a))
  if (o.bridges !== undefined) chain.bridges = field(o, 'bridges', (v): v is string[] => Array.isArray(v) && v.every(isAddr), 'a list of addresses', where).map(a => toAddress(a))
  const isWei = (v: unknown): v is string => typeof v === 'string' && /^\d+$/.test(v)
  if (o.marketBounds !== undefined) {
    const b = o.marketBounds as Record<string, unknown>
    if (b === null || typeof b !== 'object') throw new NetworkFileError(`${where}: "marketBounds" must be an object`)
    const at = `${where} marketBounds`
    chain.marketBounds = {
      minResultTimeout: field(b, 'minResultTimeout', isInt, 'seconds', at),
      maxResultTimeout: field(b, 'maxResultTimeout', isInt, 'seconds', at),
      minJudgeWindow: field(b, 'minJudgeWindow', isInt, 'seconds', at),
      maxJudgeWindow: field(b, 'maxJudgeWindow', isInt, 'seconds', at),
      minMediateTimeout: field(b, 'minMediateTimeout', isInt, 'seconds', at),
      maxMediateTimeout: field(b, 'maxMediateTimeout', isInt, 'seconds', at),
      maxDealTtl: field(b, 'maxDealTtl', isInt, 'seconds', at),
      minMediationFee: field(b, 'minMediationFee', isWei, 'a decimal string of LP wei', at)
    }
  }
  if (o.jobManagerConfig !== undefined) {
    const c = o.jobManagerConfig as Record<string, unknown>
    if (c === null || typeof c !== 'object') throw new NetworkFileError(`${where}: "jobManagerConfig" must be an object`)
    const at = `${where} jobManagerConfig`
    chain.jobManagerConfig = {
      minTimeout: field(c, 'minTimeout', isInt, 'seconds', at),
      maxTimeout: field(c, 'maxTimeout', isInt, 'seconds', at),
      minCallbackGas: field(c, 'minCallbackGas', isInt, 'gas', at),
      maxCallbackGas: field(c, 'maxCallbackGas', isInt, 'gas', at),
      disputeWindow: field(c, 'disputeWindow', isInt, 'seconds', at),
      mediationWindow: field(c, 'mediationWindow', isInt, 'seconds', at),
      jobBond: field(c, 'jobBond', isWei, 'a decimal string of LP wei', at),
      disputeFee: field(c, 'disputeFee', isWei, 'a decimal string of LP wei', at)
    }
  }
  if (o.rewards !== undefined) {
    if (contracts.rewards === undefined) throw new NetworkFileError(`${where}: "rewards" needs "contracts.rewards", the Rewards contract's address`)
    try {
      const setup = setupFromJson(o.rewards, isAddress)
      chain.rewards = setupToJson({ ...setup, publishers: setup.publishers.map(a => toAddress(a)), validators: setup.validators.map(a => toAddress(a)) })
    } catch (err) {
      throw new NetworkFileError(`${where}: ${(err as Error).message}`)
    }
  }
  return chain
}

const BOOTSTRAP_HEADS = new Set(['ip4', 'ip6', 'dns', 'dns4', 'dns6', 'dnsaddr'])

/** A bootstrap entry must parse, start with an address or a DNS name, and name its peer (dnsaddr records may). */
function checkBootstrapAddr (text: string, where: string): string {
  let parts
  try { parts = multiaddr(text).getComponents() } catch (err) {
    throw new NetworkFileError(`${where}: bootstrap entry "${text}" is not a multiaddr (${(err as Error).message})`)
  }
  const head = parts[0]?.name
  if (head === undefined || !BOOTSTRAP_HEADS.has(head)) throw new NetworkFileError(`${where}: bootstrap entry "${text}" must start with /ip4, /ip6, /dns4, /dns6, /dns or /dnsaddr`)
  if (head !== 'dnsaddr' && !parts.some(c => c.name === 'p2p')) throw new NetworkFileError(`${where}: bootstrap entry "${text}" must end in /p2p/<peer id>`)
  return text
}

const isPositiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0

function parseMesh (raw: unknown, where: string): NetworkMesh {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new NetworkFileError(`${where}: must be an object`)
  const m = raw as Record<string, unknown>
  const out: NetworkMesh = {}
  for (const k of ['maxConnections', 'maxConnectionsPerIp', 'inboundConnectionsPerSecond', 'dnsTimeoutMs'] as const) {
    if (m[k] !== undefined) out[k] = field(m, k, isPositiveInt, 'a positive integer', where)
  }
  if (m.relay !== undefined) {
    if (m.relay === null || typeof m.relay !== 'object' || Array.isArray(m.relay)) throw new NetworkFileError(`${where}: "relay" must be an object`)
    const r = m.relay as Record<string, unknown>
    const relay: NonNullable<NetworkMesh['relay']> = {}
    const keys = ['maxReservations', 'maxReservationsPerIp', 'reservationTtlSec', 'maxDurationSec', 'maxDataBytes', 'maxRelayedConnections'] as const
    for (const k of keys) {
      if (r[k] !== undefined) relay[k] = field(r, k, isPositiveInt, 'a positive integer', `${where} relay`)
    }
    // a misspelt limit would otherwise leave the default in force without a word
    for (const k of Object.keys(r)) if (!(keys as readonly string[]).includes(k)) throw new NetworkFileError(`${where} relay: unknown setting "${k}" (known: ${keys.join(', ')})`)
    out.relay = relay
  }
  for (const k of Object.keys(m)) if (!['maxConnections', 'maxConnectionsPerIp', 'inboundConnectionsPerSecond', 'dnsTimeoutMs', 'relay'].includes(k)) throw new NetworkFileError(`${where}: unknown setting "${k}"`)
  return out
}

export interface LoadedNetwork {
  network: NetworkFile
  /** The file it came from; relative paths inside it (the swarm key) resolve against its folder. */
  path: string
  /** Absolute path of the swarm key, when the network is private. */
  swarmKeyFile?: string
}

/** `nameOrPath` is a network name (looked up under LILYPAD_HOME/networks) or a path to a network file. */
export async function loadNetwork (nameOrPath: string = DEFAULT_NETWORK, env: NodeJS.ProcessEnv = process.env): Promise<LoadedNetwork> {
  const looksLikePath = nameOrPath.includes('/') || nameOrPath.endsWith('.json')
  const path = looksLikePath ? resolve(nameOrPath) : networkPath(nameOrPath, env)
  if (!existsSync(path)) {
    throw new NetworkNotFoundError(looksLikePath
      ? `network file ${path} does not exist`
      : `no network named "${nameOrPath}" (looked for ${path})`)
  }
  const network = applyEnvOverrides(parseNetworkFile(await readFile(path, 'utf8'), path), env)
  const loaded: LoadedNetwork = { network, path }
  if (network.swarmKeyPath !== undefined) {
    loaded.swarmKeyFile = isAbsolute(network.swarmKeyPath) ? network.swarmKeyPath : join(dirname(path), network.swarmKeyPath)
  }
  return loaded
}

/** WEB3_RPC_URL, WEB3_CHAIN_ID and SERVICE_MEDIATORS override the network file, as in Lilypad v2. */
export function applyEnvOverrides (network: NetworkFile, env: NodeJS.ProcessEnv): NetworkFile {
  const out = { ...network }
  if (env.WEB3_RPC_URL !== undefined && env.WEB3_RPC_URL !== '') {
    try { new URL(env.WEB3_RPC_URL) } catch { throw new InvalidSettingError('WEB3_RPC_URL is not a URL') }
    // the first chain's endpoint: its failover list gives way to the one URL the operator named
    out.rpcUrl = env.WEB3_RPC_URL
    delete out.rpcUrls
  }
  if (env.WEB3_CHAIN_ID !== undefined && env.WEB3_CHAIN_ID !== '') {
    const id = Number(env.WEB3_CHAIN_ID)
    if (!Number.isSafeInteger(id) || id <= 0) throw new InvalidSettingError('WEB3_CHAIN_ID must be a positive integer')
    out.chainId = id
  }
  if (env.SERVICE_MEDIATORS !== undefined && env.SERVICE_MEDIATORS !== '') out.mediators = parseAddressList(env.SERVICE_MEDIATORS, 'SERVICE_MEDIATORS')
  return out
}

export function parseAddressList (text: string, what: string): string[] {
  return text.split(',').map(s => s.trim()).filter(Boolean).map(a => {
    if (!isAddress(a)) throw new InvalidSettingError(`${what}: "${a}" is not an Ethereum address`)
    return toAddress(a)
  })
}

/** Parses a private key without ever echoing it: errors name the variable, not the value. */
export function parsePrivateKey (value: string | undefined, source = 'WEB3_PRIVATE_KEY'): LocalKey {
  if (value === undefined || value === '') throw new InvalidPrivateKeyError(`${source} is not set`)
  const hex = value.startsWith('0x') ? value : `0x${value}`
  if (!/^0x[0-9a-fA-F]{64}$/.test(hex)) throw new InvalidPrivateKeyError(`${source} is not a 32-byte hex private key`)
  try {
    return localKey(hex)
  } catch {
    throw new InvalidPrivateKeyError(`${source} is not a valid secp256k1 private key`)
  }
}

/**
 * A block explorer's base URL, as links in the console will use it: http or https only (a network file is not
 * trusted to put `javascript:` or `data:` into a page), no credentials, no query or fragment; without a trailing slash.
 */
function explorerUrl (v: string, where: string): string {
  let u: URL
  try { u = new URL(v) } catch { throw new NetworkFileError(`${where}: "explorerUrl" is not a URL: ${JSON.stringify(v.slice(0, 100))}`) }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new NetworkFileError(`${where}: "explorerUrl" must be an http(s) URL, not ${u.protocol}`)
  if (u.username !== '' || u.password !== '' || u.search !== '' || u.hash !== '') throw new NetworkFileError(`${where}: "explorerUrl" must be a plain base URL (no credentials, query or fragment), e.g. https://sepolia.arbiscan.io`)
  return (u.origin + u.pathname).replace(/\/+$/, '')
}
