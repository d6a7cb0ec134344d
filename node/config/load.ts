// Resolves what a node or a CLI command runs against: the network file, the Ethereum key and the overrides
// Lilypad v2 users know from the environment (WEB3_PRIVATE_KEY, WEB3_RPC_URL, WEB3_CHAIN_ID, SERVICE_MEDIATORS).
// Every input is parsed here, at the edge, into typed values with named errors; nothing unparsed goes inward.
import { readFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join, resolve, isAbsolute } from 'node:path'
import { isAddress, localKey, toAddress, type LocalKey } from './key.ts'
import { multiaddr } from '@multiformats/multiaddr'
import type { NetworkFile, NetworkMesh } from './network.ts'
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

/** Parses and checks a network file's content; `where` names it in errors. */
export function parseNetworkFile (text: string, where: string): NetworkFile {
  let raw: unknown
  try { raw = JSON.parse(text) } catch (err) {
    throw new NetworkFileError(`${where}: not valid JSON (${(err as Error).message})`)
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new NetworkFileError(`${where}: must be a JSON object`)
  const o = raw as Record<string, unknown>
  const networkId = field(o, 'networkId', isString, 'a string', where)
  if (!NETWORK_ID.test(networkId)) throw new NetworkFileError(`${where}: "networkId" must be lowercase letters, digits and dashes (it is the protocol prefix)`)
  const contractsRaw = o.contracts
  if (contractsRaw === null || typeof contractsRaw !== 'object') throw new NetworkFileError(`${where}: "contracts" must be an object`)
  const c = contractsRaw as Record<string, unknown>
  const contracts: NetworkFile['contracts'] = {
    token: toAddress(field(c, 'token', isAddr, 'an address', `${where} contracts`)),
    market: toAddress(field(c, 'market', isAddr, 'an address', `${where} contracts`)),
    directory: toAddress(field(c, 'directory', isAddr, 'an address', `${where} contracts`)),
    jobManager: toAddress(field(c, 'jobManager', isAddr, 'an address', `${where} contracts`))
  }
  for (const opt of ['faucet', 'exampleClient', 'rewards'] as const) {
    if (c[opt] !== undefined) contracts[opt] = toAddress(field(c, opt, isAddr, 'an address', `${where} contracts`))
  }
  const net: NetworkFile = {
    networkId,
    chainId: field(o, 'chainId', isInt, 'a non-negative integer', where),
    rpcUrl: field(o, 'rpcUrl', isString, 'a URL', where),
    contracts,
    deployBlock: o.deployBlock === undefined ? 0 : field(o, 'deployBlock', isInt, 'a non-negative integer', where),
    bootstrap: o.bootstrap === undefined ? [] : field(o, 'bootstrap', isStringList, 'a list of multiaddrs', where).map(b => checkBootstrapAddr(b, where))
  }
  if (o.swarmKeyPath !== undefined) net.swarmKeyPath = field(o, 'swarmKeyPath', isString, 'a path', where)
  if (o.explorerUrl !== undefined) net.explorerUrl = explorerUrl(field(o, 'explorerUrl', isString, 'a URL', where), where)
  if (o.mediators !== undefined) net.mediators = field(o, 'mediators', (v): v is string[] => Array.isArray(v) && v.every(isAddr), 'a list of addresses', where).map(a => toAddress(a))
  if (o.bridges !== undefined) net.bridges = field(o, 'bridges', (v): v is string[] => Array.isArray(v) && v.every(isAddr), 'a list of addresses', where).map(a => toAddress(a))
  const isWei = (v: unknown): v is string => typeof v === 'string' && /^\d+$/.test(v)
  if (o.marketBounds !== undefined) {
    const b = o.marketBounds as Record<string, unknown>
    if (b === null || typeof b !== 'object') throw new NetworkFileError(`${where}: "marketBounds" must be an object`)
    const at = `${where} marketBounds`
    net.marketBounds = {
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
    net.jobManagerConfig = {
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
  if (o.dealTerms !== undefined) {
    const t = o.dealTerms as Record<string, unknown>
    if (t === null || typeof t !== 'object') throw new NetworkFileError(`${where}: "dealTerms" must be an object`)
    const terms: NonNullable<NetworkFile['dealTerms']> = {}
    for (const k of ['resultSlack', 'judgeWindow', 'mediateTimeout'] as const) if (t[k] !== undefined) terms[k] = field(t, k, isInt, 'a non-negative integer (seconds)', `${where} dealTerms`)
    if (t.mediationFee !== undefined) terms.mediationFee = field(t, 'mediationFee', (v): v is string => typeof v === 'string' && /^\d+$/.test(v), 'a decimal string of LP wei', `${where} dealTerms`)
    net.dealTerms = terms
  }
  if (o.mesh !== undefined) net.mesh = parseMesh(o.mesh, `${where} mesh`)
  if (o.rewards !== undefined) {
    if (contracts.rewards === undefined) throw new NetworkFileError(`${where}: "rewards" needs "contracts.rewards", the Rewards contract's address`)
    try {
      const setup = setupFromJson(o.rewards, isAddress)
      net.rewards = setupToJson({ ...setup, publishers: setup.publishers.map(a => toAddress(a)), validators: setup.validators.map(a => toAddress(a)) })
    } catch (err) {
      throw new NetworkFileError(`${where}: ${(err as Error).message}`)
    }
  }
  try { new URL(net.rpcUrl) } catch { throw new NetworkFileError(`${where}: "rpcUrl" is not a URL`) }
  return net
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
    out.rpcUrl = env.WEB3_RPC_URL
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
