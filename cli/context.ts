// What commands share: resolving the network (starting the devnet in the background when it is the default and
// not running), the key (never echoed), and turning the node's named errors into messages with hints.
import { spawn } from 'node:child_process'
import { openSync, mkdirSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { UserError } from './errors.ts'
import { loadNetwork, lilypadHome, parsePrivateKey, DEFAULT_NETWORK, type LoadedNetwork } from '../node/config/load.ts'
import { wellKnownDevKey } from '../node/chain/dev-keys.ts'
import { localKey, type LocalKey } from '../node/config/key.ts'
import { DEVNET_ID, DEVNET_KEYS, devnetDir, runningDevnet, readyMarkerPath, type ReadyMarker } from '../node/devnet-marker.ts'

export const CLI_BIN = fileURLToPath(new URL('./bin.ts', import.meta.url))

export { usageError } from './usage.ts'

/** Starts `lilypad devnet` detached (logging to $LILYPAD_HOME/devnet/devnet.log) and waits until it is ready. */
export async function startDetachedDevnet (onNote: (m: string) => void, timeoutMs = 90_000): Promise<ReadyMarker> {
  const dir = devnetDir()
  mkdirSync(dir, { recursive: true })
  const logPath = join(dir, 'devnet.log')
  const fd = openSync(logPath, 'a')
  onNote(`no devnet is running: starting one in the background (log: ${logPath})`)
  const child = spawn(process.execPath, [CLI_BIN, 'devnet'], { detached: true, stdio: ['ignore', fd, fd], env: process.env })
  child.unref()
  let exited: number | null | undefined
  child.once('exit', code => { exited = code })
  const deadline = Date.now() + timeoutMs
  // The marker is written by the child once everything is up; a polled read is the simplest cross-process signal.
  for (;;) {
    const m = await runningDevnet()
    if (m !== undefined && m.pid === child.pid) return m
    if (exited !== undefined) {
      const tail = (await readFile(logPath, 'utf8').catch(() => '')).split('\n').slice(-8).join('\n')
      throw new UserError(`the devnet failed to start (exit code ${exited})`, { hint: `see ${logPath}:\n${tail}` })
    }
    if (Date.now() > deadline) throw new UserError('the devnet did not become ready in time', { hint: `see ${logPath}` })
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

export interface Resolved { loaded: LoadedNetwork, wallet: LocalKey, isDevnet: boolean }

/**
 * The network (default: the devnet, started in the background when `autoStart` and not running) and the key:
 * WEB3_PRIVATE_KEY, or on the devnet only the well-known dev key reserved for the CLI user.
 */
export async function resolveNetworkAndKey (name: string | undefined, opts: { autoStart?: boolean, onNote?: (m: string) => void, devKeyIndex?: number } = {}): Promise<Resolved> {
  const networkName = name ?? DEFAULT_NETWORK
  const isDevnet = networkName === DEVNET_ID
  if (isDevnet && opts.autoStart === true && await runningDevnet() === undefined) await startDetachedDevnet(opts.onNote ?? (() => {}))
  let loaded: LoadedNetwork
  try {
    loaded = await loadNetwork(networkName)
  } catch (err) {
    throw toUserError(err)
  }
  let wallet: LocalKey
  if (process.env.WEB3_PRIVATE_KEY !== undefined && process.env.WEB3_PRIVATE_KEY !== '') {
    wallet = wrap(() => parsePrivateKey(process.env.WEB3_PRIVATE_KEY))
  } else if (isDevnet) {
    wallet = localKey(wellKnownDevKey(opts.devKeyIndex ?? DEVNET_KEYS.user))
  } else {
    throw new UserError('WEB3_PRIVATE_KEY is not set', { hint: 'export WEB3_PRIVATE_KEY=<your key> (only the devnet has a default key)', exitCode: 2 })
  }
  return { loaded, wallet, isDevnet }
}

function wrap<T> (f: () => T): T {
  try { return f() } catch (err) { throw toUserError(err) }
}

/** Node errors → what went wrong and what to do. Unknown errors pass through (and show a stack: a bug). */
export function toUserError (e: unknown): unknown {
  const err = e as Error & { rpcUrl?: string, reason?: string }
  const name = err?.name
  switch (name) {
    case 'UserError': return e
    case 'NetworkNotFoundError':
      return new UserError(err.message, { hint: 'start the devnet with "lilypad devnet", create a network with "lilypad network init", or name one with --network', exitCode: 2, cause: e })
    case 'NetworkFileError':
    case 'InvalidSettingError':
      return new UserError(`${name}: ${err.message}`, { hint: 'fix the network file or the environment variable named', exitCode: 2, cause: e })
    case 'InvalidPrivateKeyError':
      return new UserError(err.message, { hint: 'WEB3_PRIVATE_KEY must be a 32-byte hex key (0x optional)', exitCode: 2, cause: e })
    case 'RpcUnreachableError':
    case 'RpcTimeoutError':
      return new UserError(`the chain RPC does not answer (${err.message})`, { hint: 'is the chain running? For the devnet: "lilypad devnet" (or "lilypad devnet stop" and run again); else check WEB3_RPC_URL', cause: e })
    case 'UnknownChainError':
      return new UserError(err.message, { hint: '--chain takes a chain id or name from the network file ("lilypad balance" lists them)', exitCode: 2, cause: e })
    case 'WrongChainError':
      return new UserError(err.message, { hint: 'WEB3_RPC_URL points at another chain than the network file; check WEB3_RPC_URL and WEB3_CHAIN_ID', cause: e })
    case 'NoProviderError':
      return new UserError(`no resource provider for this job: ${err.message}`, { hint: 'check that a resource provider runs (the devnet starts one), the module\'s resources, --max-price, --target and the mediators (SERVICE_MEDIATORS)', cause: e })
    case 'NoMatchingProviderError':
      return new UserError(`no resource provider can run this job: ${err.message}`, { hint: 'check that a resource provider runs (the devnet starts one), the module\'s resources, --max-price, --target and the mediators (SERVICE_MEDIATORS)', cause: e })
    case 'QueueTimeoutError':
      return new UserError(`every resource provider that fits stayed busy: ${err.message}`, { hint: 'the providers that can run it were busy the whole time; try again later', cause: e })
    case 'InsufficientDepositError':
      return new UserError(`insufficient deposit: ${err.message}`, { hint: 'get LP with "lilypad faucet" and deposit it into the Market', cause: e })
    case 'ProvidersFailedError':
      return new UserError(err.message, { hint: 'the payments were refunded; try again later or with another --target', cause: e })
    case 'ModuleInputError':
    case 'ModuleRefError':
      return new UserError(`${name}: ${err.message}`, { hint: 'modules are name:version (e.g. cowsay:v0.0.1) and inputs -i Key=Value', exitCode: 2, cause: e })
    case 'MissingInputError':
    case 'GpuRequirementError':
    case 'CpuRequirementError':
      return new UserError(`${name}: ${err.message}`, { hint: (err as { hint?: string }).hint, exitCode: 2, cause: e })
    case 'TemplateStepLimitError':
    case 'TemplateOutputLimitError':
    case 'TemplateNestingError':
    case 'TemplateTimeLimitError':
    case 'TemplateTooLargeError':
      return new UserError(`${name}: ${err.message}`, { hint: (err as { hint?: string }).hint, cause: e })
    case 'ModuleNotFoundError':
    case 'ModuleTemplateMissingError':
    case 'ModulePinMismatchError':
    case 'ModuleSpecError':
    case 'TemplateSyntaxError':
    case 'TemplateExecError':
    case 'UnknownTemplateFunctionError':
      return new UserError(`${name}: ${err.message}`, { hint: 'check the module reference and its template ("lilypad module render <ref>" shows what it renders)', cause: e })
    case 'ContractRevertError':
      return new UserError(`a transaction was refused: ${err.message}`, { hint: 'check your deposit and the deal state', cause: e })
    case 'ResultUnavailableError':
    case 'FetchTimeoutError':
    case 'PeerUnreachableError':
    case 'ResultVerificationError':
      return new UserError(`could not download the result: ${err.message}`, { hint: 'the provider may have gone away; the deal stays open until its judge window passes', cause: e })
    case 'UnknownRoleError':
      return new UserError(err.message, { hint: 'roles: resource-provider, solver, directory, mediator, job-bridge, validator', exitCode: 2, cause: e })
    case 'MetricsPortError':
      return new UserError(err.message, { hint: 'pick a free port for --metrics (0 lets the system choose)', exitCode: 2, cause: e })
    case 'GatewayPortError':
      return new UserError(err.message, { hint: 'pick a free port for --gateway (0 lets the system choose)', exitCode: 2, cause: e })
    case 'NodeAlreadyRunningError':
    case 'JobNotFoundError':
    case 'JobNotDoneError':
    case 'JobEndedError':
    case 'JobCancelledError':
    case 'NodeRestartedError':
    case 'TooManyJobsError':
    case 'BadResultPathError':
    case 'ResultFileNotFoundError':
    case 'InputFileNotUsedError':
    case 'InputNameConflictError':
      return new UserError(err.message, { hint: (err as { hint?: string }).hint, cause: e })
    case 'ApiPortError':
      return new UserError(err.message, { hint: 'pick a free port for --api (0 lets the system choose), or --no-api', exitCode: 2, cause: e })
    case 'DockerUnavailableError':
      return new UserError(err.message, { hint: 'start the Docker engine (./lilypad sets up the machine)', cause: e })
    case 'NoRewardsContractError':
    case 'NotAValidatorError':
    case 'RulesMismatchError':
    case 'RootMismatchError':
    case 'EpochNotClosedError':
    case 'NoRewardsError':
    case 'NotInTreeError':
    case 'InvalidRewardsSetupError':
    case 'CanaryReportError':
      return new UserError(`${name}: ${err.message}`, { hint: (err as { hint?: string }).hint, cause: e })
    default: return e
  }
}

export { lilypadHome, readyMarkerPath }
