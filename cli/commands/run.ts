import { parseArgs } from 'node:util'
import { readFile, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { Command } from '../command.ts'
import { UserError } from '../errors.ts'
import { Progress, resultStatusLines } from '../progress.ts'
import { usageError, parseLP, looksLikeAddress } from '../usage.ts'
import type { LilypadNode } from '../../node/node.ts'
import type { JobOutcome } from '../../node/roles/job-creator.ts'
import type { Lilypad } from '../../sdk/index.ts'
import type { GpuRequirement, CpuRequirement } from '../../node/modules/requirement.ts'
import { readResultStatus, type ResultStatus } from '../../node/executor/status.ts'

const USAGE = 'lilypad run <module> [-i Key=Value …] [--input-file Name=PATH …] [--network N] [--chain ID|NAME] [--target ADDR] [--json] [--mediator ADDR …] [--max-price LP] [--audit P] [--timeout S] [--cpu CORES] [--ram MB] [--gpu N] [--gpu-model NAME] [--vram MB] [--data-dir DIR] [--no-accept]'

/** A whole number flag within [0, max]. */
function count (flag: string, v: string | undefined, max: number): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n > max) throw usageError(`${flag} "${v}" must be a whole number from 0 to ${max}`, USAGE)
  return n
}

async function parse (argv: string[]): Promise<{ ref: string, inputs: Record<string, string>, inputFiles: Record<string, string>, network?: string, chain?: string, target?: string, json: boolean, mediators?: string[], maxPrice?: bigint, audit: number, timeoutSec?: number, gpu: GpuRequirement, machine: CpuRequirement, dataDir: string, accept: boolean }> {
  let v
  try {
    v = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        input: { type: 'string', short: 'i', multiple: true },
        'input-file': { type: 'string', multiple: true },
        network: { type: 'string', short: 'n' },
        chain: { type: 'string' },
        target: { type: 'string' },
        json: { type: 'boolean' },
        mediator: { type: 'string', multiple: true },
        'max-price': { type: 'string' },
        audit: { type: 'string' },
        timeout: { type: 'string' },
        cpu: { type: 'string' },
        ram: { type: 'string' },
        gpu: { type: 'string' },
        'gpu-model': { type: 'string' },
        vram: { type: 'string' },
        'data-dir': { type: 'string' },
        'no-accept': { type: 'boolean' }
      }
    })
  } catch (err) {
    throw usageError((err as Error).message, USAGE)
  }
  const { values, positionals } = v
  if (positionals.length !== 1) throw usageError(positionals.length === 0 ? 'missing the module, e.g. cowsay:v0.0.1' : `one module only, got ${positionals.join(' ')}`, USAGE)
  if (values.target !== undefined && !looksLikeAddress(values.target)) throw usageError(`--target "${values.target}" is not an Ethereum address`, USAGE)
  if (values.chain !== undefined && !/^[a-z0-9][a-z0-9-]{0,31}$/.test(values.chain.trim())) throw usageError(`--chain "${values.chain.slice(0, 40)}" must be a chain id or a chain name of the network file`, USAGE)
  let maxPrice: bigint | undefined
  if (values['max-price'] !== undefined) {
    try { maxPrice = parseLP(values['max-price']) } catch { throw usageError(`--max-price "${values['max-price']}" is not an LP amount (e.g. 1.5)`, USAGE) }
  }
  const audit = values.audit === undefined ? 0 : Number(values.audit)
  if (!(audit >= 0 && audit <= 1)) throw usageError(`--audit "${values.audit}" must be a probability between 0 and 1`, USAGE)
  let timeoutSec: number | undefined
  if (values.timeout !== undefined) {
    timeoutSec = Number(values.timeout)
    if (!(Number.isFinite(timeoutSec) && timeoutSec > 0)) throw usageError(`--timeout "${values.timeout}" must be a positive number of seconds`, USAGE)
  }
  // CPU and memory on top of the module's: cores as a decimal (the offer's millicores), memory in MiB
  const machine: CpuRequirement = {}
  if (values.cpu !== undefined) {
    const cores = Number(values.cpu)
    if (!/^\d+(\.\d{1,3})?$/.test(values.cpu.trim()) || !(cores > 0 && cores <= 1_000_000)) throw usageError(`--cpu "${values.cpu}" must be a number of cores, e.g. 1 or 0.5`, USAGE)
    machine.cpu = Math.round(cores * 1000)
  }
  const ram = count('--ram', values.ram, 0xffffffff)
  if (ram !== undefined) machine.ramMb = ram
  const gpu: GpuRequirement = {}
  const gpus = count('--gpu', values.gpu, 0xffff)
  const vram = count('--vram', values.vram, 0xffffffff)
  if (gpus !== undefined) gpu.gpus = gpus
  if (vram !== undefined) gpu.gpuVramMb = vram
  if (values['gpu-model'] !== undefined) {
    const model = values['gpu-model'].trim()
    if (model === '' || model.length > 64) throw usageError('--gpu-model needs a model name of at most 64 characters, e.g. H100 or "RTX 4090"', USAGE)
    gpu.gpuModel = model
  }
  // the flags' syntax is checked; what needs the node's code (inputs, address lists) loads it now
  const { parseInputs, parseInputFiles } = await import('../../node/modules/inputs.ts')
  let inputs: Record<string, string>
  let inputFiles: Record<string, string>
  try {
    inputs = parseInputs(values.input ?? [])
    inputFiles = parseInputFiles(values['input-file'] ?? [])
  } catch (err) { throw usageError((err as Error).message, USAGE) }
  for (const [name, path] of Object.entries(inputFiles)) {
    if (name in inputs) throw usageError(`input ${name} is given both with -i and with --input-file`, USAGE)
    const full = resolve(path)
    const st = await stat(full).catch(() => undefined)
    if (st === undefined || !(st.isFile() || st.isDirectory())) throw usageError(`--input-file ${name}=${path}: no such file or directory`, USAGE)
    inputFiles[name] = full
  }
  const { parseAddressList } = await import('../../node/config/load.ts')
  const { DEFAULT_DATA_DIR } = await import('../../node/result-store/defaults.ts')
  let mediators: string[] | undefined
  if (values.mediator !== undefined) {
    try { mediators = parseAddressList(values.mediator.join(','), '--mediator') } catch (err) { throw usageError((err as Error).message, USAGE) }
  }
  return {
    ref: positionals[0], inputs, inputFiles, json: values.json === true, audit, accept: values['no-accept'] !== true, gpu, machine,
    dataDir: values['data-dir'] ?? process.env.LILYPAD_DATA_DIR ?? DEFAULT_DATA_DIR,
    ...(values.network !== undefined ? { network: values.network } : {}),
    ...(values.chain !== undefined ? { chain: values.chain.trim() } : {}),
    ...(values.target !== undefined ? { target: values.target } : {}),
    ...(mediators !== undefined ? { mediators } : {}),
    ...(maxPrice !== undefined ? { maxPrice } : {}),
    ...(timeoutSec !== undefined ? { timeoutSec } : {})
  }
}

type Parsed = Awaited<ReturnType<typeof parse>>
/** What the output needs of a job's outcome, whichever way it ran. */
type Finished = Pick<JobOutcome, 'dealId' | 'resultCid' | 'path' | 'exitCode' | 'phasesMs' | 'inputFiles'>

/** Submits the job to the running node and follows its events; Ctrl-C cancels it (and says what that costs). */
async function runThroughNode (lp: Lilypad, a: Parsed, chainId: number | undefined, progress: Progress): Promise<Finished> {
  const { fromApi, render } = await import('../node-client.ts')
  const { formatLP } = await import('../usage.ts')
  const gpu = { ...(a.gpu.gpus !== undefined ? { gpus: a.gpu.gpus } : {}), ...(a.gpu.gpuModel !== undefined ? { model: a.gpu.gpuModel } : {}), ...(a.gpu.gpuVramMb !== undefined ? { vramMb: a.gpu.gpuVramMb } : {}) }
  let job
  try {
    job = await lp.submit(a.ref, a.inputs, {
      audit: a.audit, accept: a.accept,
      ...(chainId !== undefined ? { chain: chainId } : {}),
      ...(Object.keys(gpu).length > 0 ? { gpu } : {}),
      ...(Object.keys(a.machine).length > 0 ? { machine: a.machine } : {}),
      ...(Object.keys(a.inputFiles).length > 0 ? { inputFiles: a.inputFiles } : {}),
      ...(a.target !== undefined ? { target: a.target } : {}),
      ...(a.mediators !== undefined ? { mediators: a.mediators } : {}),
      ...(a.maxPrice !== undefined ? { maxPrice: formatLP(a.maxPrice) } : {})
    })
  } catch (err) { throw await fromApi(err) }
  progress.note(`job ${job.id} submitted to the running node${chainId !== undefined ? `, to settle on chain ${chainId}` : ''} ("lilypad job ${job.id}" shows it)`)
  const stop = new AbortController()
  let why: 'interrupted' | 'timeout' | undefined
  const onSigint = (): void => { why = 'interrupted'; stop.abort() }
  process.once('SIGINT', onSigint)
  const timer = a.timeoutSec !== undefined ? setTimeout(() => { why = 'timeout'; stop.abort() }, a.timeoutSec * 1000) : undefined
  try {
    for await (const e of lp.logs(job.id, { signal: stop.signal })) render(progress, e)
  } catch (err) {
    if (why === undefined) throw await fromApi(err)
    const answer = await lp.cancel(job.id).catch(async e => { throw await fromApi(e) })
    const what = why === 'interrupted' ? 'interrupted' : `gave up after --timeout ${a.timeoutSec ?? 0} s`
    throw new UserError(answer.cancelled ? `${what}: job ${job.id} cancelled` : `${what}: job ${job.id} goes on in the node`, { hint: answer.money, exitCode: why === 'interrupted' ? 130 : 1 })
  } finally {
    process.off('SIGINT', onSigint)
    clearTimeout(timer)
  }
  let end
  try { end = await lp.job(job.id) } catch (err) { throw await fromApi(err) }
  if (end.state !== 'done' || end.outcome === undefined) {
    const e = Object.assign(new Error(end.error?.message ?? `the job ended ${end.state}`), { name: end.error?.name ?? 'Error', status: 200, ...(end.error?.hint !== undefined ? { hint: end.error.hint } : {}) })
    throw await fromApi(e)
  }
  const o = end.outcome
  return { dealId: o.dealId, resultCid: o.resultCid, path: o.path, exitCode: o.exitCode, phasesMs: o.phasesMs, ...(o.inputFiles !== undefined ? { inputFiles: o.inputFiles } : {}) }
}

export const run: Command = {
  name: 'run',
  summary: 'Run a job on the Lilypad network (starts the devnet when none is named and none runs)',
  usage: USAGE,
  async run (argv) {
    const a = await parse(argv)
    const progress = new Progress({ json: a.json })
    const { resolveNetworkAndKey, toUserError, lilypadHome } = await import('../context.ts')
    const { loaded, wallet, isDevnet } = await resolveNetworkAndKey(a.network, { autoStart: a.network === undefined, onNote: m => { progress.note(m) } })
    const stateDir = join(lilypadHome(), 'state', loaded.network.networkId, wallet.address.toLowerCase())
    // the chain the deal settles on: --chain, else the network's first
    const { findChain } = await import('../../node/config/chains.ts')
    let chainId: number
    try { chainId = findChain(loaded.network, a.chain).chainId } catch (err) { throw toUserError(err) }
    const further = chainId !== loaded.network.chainId
    const interrupt = new AbortController()
    const onSigint = (): void => { interrupt.abort(new UserError('interrupted', { hint: `the deal's state is kept in ${stateDir}; an agreed deal without result is refunded by the next "lilypad run" after its deadline`, exitCode: 130 })) }
    process.once('SIGINT', onSigint)
    const signals = [interrupt.signal, ...(a.timeoutSec !== undefined ? [AbortSignal.timeout(a.timeoutSec * 1000)] : [])]
    let node: LilypadNode | undefined
    let outcome: Finished
    // the fast path: the node that owns this key runs the job (it owns the nonce, the deals and the store)
    const { runningNode } = await import('../node-client.ts')
    const viaNode = await runningNode({ loaded, wallet, isDevnet })
    if (viaNode !== undefined) {
      process.off('SIGINT', onSigint)
      // (on the chain named: the node runs it through that chain's job creator, which owns the key's nonces there)
      outcome = await runThroughNode(viaNode, a, further ? chainId : undefined, progress)
    } else try {
      const { LilypadNode } = await import('../../node/node.ts')
      const { generateKeyPair } = await import('@libp2p/crypto/keys')
      // an ephemeral peer id: several runs at once must not share one
      // the run's own output is the progress on stderr and the result on stdout: the node logs only warnings
      // unless LILYPAD_LOG_LEVEL asks for more
      const level = process.env.LILYPAD_LOG_LEVEL !== undefined && process.env.LILYPAD_LOG_LEVEL !== '' ? undefined : 'warn' as const
      // (the run joins only the chain it settles on besides the first: another chain's RPC being down does not matter)
      node = await LilypadNode.create({ network: loaded.network, networkPath: loaded.path, privateKey: wallet.privateKey, dataDir: a.dataDir, roles: [], local: isDevnet, chains: further ? [chainId] : [], host: { privateKey: await generateKeyPair('Ed25519') }, components: { logger: level !== undefined ? { level } : {} } })
      const jc = further ? await node.jobCreatorOn(chainId, { dataDir: stateDir }) : await node.createJobCreator({ network: loaded.network, dataDir: stateDir })
      outcome = await jc.run({
        module: a.ref, inputs: a.inputs, inputFiles: a.inputFiles, auditProbability: a.audit, accept: a.accept, signal: AbortSignal.any(signals), gpu: a.gpu, machine: a.machine,
        ...(a.target !== undefined ? { target: a.target } : {}),
        ...(a.mediators !== undefined ? { mediators: a.mediators } : {}),
        ...(a.maxPrice !== undefined ? { maxPrice: a.maxPrice } : {}),
        onProgress: progress.handle
      })
    } catch (err) {
      if (interrupt.signal.aborted) throw interrupt.signal.reason
      if ((err as Error)?.name === 'TimeoutError' && a.timeoutSec !== undefined) throw new UserError(`gave up after --timeout ${a.timeoutSec} s`, { hint: `the deal's state is kept in ${stateDir}; an agreed deal without result is refunded by the next run after its deadline` })
      throw toUserError(err)
    } finally {
      process.off('SIGINT', onSigint)
      await node?.stop().catch(err => { process.stderr.write(`warning: the node did not stop cleanly: ${(err as Error).message}\n`) })
    }
    // the status file says how the job ended (timeout, out of memory, output cap, truncation); a stranger made it
    let status: ResultStatus | undefined
    let problem: string | undefined
    try { status = await readResultStatus(outcome.path) } catch (err) { problem = (err as Error).message }
    const ok = outcome.exitCode === 0 && (status === undefined || status.status === 'ok')
    if (a.json) {
      console.log(JSON.stringify({ dealId: outcome.dealId, resultCid: outcome.resultCid, path: outcome.path, exitCode: outcome.exitCode, status: status ?? null, phasesMs: outcome.phasesMs, txs: progress.txs, ...(outcome.inputFiles !== undefined ? { inputFiles: outcome.inputFiles } : {}), totalMs: Math.round(performance.now()) }))
      return ok ? 0 : 1
    }
    const stdout = await readFile(join(outcome.path, 'stdout'), 'utf8').catch(() => '')
    console.error(`\nresult: ${outcome.path}   (total ${(progress.totalMs() / 1000).toFixed(2)} s)`)
    const lines = resultStatusLines(status, problem)
    if (!ok) {
      const stderr = await readFile(join(outcome.path, 'stderr'), 'utf8').catch(() => '')
      process.stdout.write(stdout)
      console.error(`\nerror: the job exited with code ${outcome.exitCode}`)
      for (const l of lines) console.error(l)
      if (stderr !== '') console.error(`stderr:\n${stderr}`)
      return 1
    }
    process.stdout.write(stdout)
    for (const l of lines) console.error(l)
    return 0
  }
}
