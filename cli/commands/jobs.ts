// `lilypad jobs`, `lilypad job <id>`, `lilypad cancel <id>`, `lilypad logs <id> [-f]`: clients of the node that
// owns the key (its local API). `--json` prints exactly one JSON document on stdout.
import { parseArgs } from 'node:util'
import type { Command } from '../command.ts'
import { usageError } from '../usage.ts'
import type { Job, JobProgress } from '../../sdk/index.ts'

const JOB_ID = /^job-[0-9a-f]{16}$/
const STATES = ['queued', 'matching', 'running', 'done', 'failed', 'cancelled']

function args (argv: string[], usage: string, extra: Record<string, { type: 'boolean' | 'string', short?: string }> = {}): { id?: string, values: Record<string, string | boolean | undefined> } {
  let v
  try {
    v = parseArgs({ args: argv, allowPositionals: true, options: { network: { type: 'string', short: 'n' }, json: { type: 'boolean' }, ...extra } })
  } catch (err) { throw usageError((err as Error).message, usage) }
  if (v.positionals.length > 1) throw usageError(`one job id only, got ${v.positionals.join(' ')}`, usage)
  const id = v.positionals[0]
  if (id !== undefined && !JOB_ID.test(id)) throw usageError(`"${id.slice(0, 80)}" is not a job id (job-<16 hex digits>; "lilypad jobs" lists them)`, usage)
  return { ...(id !== undefined ? { id } : {}), values: v.values as Record<string, string | boolean | undefined> }
}

function line (j: Job): string {
  const what = j.state === 'done' ? `exit ${j.outcome?.exitCode ?? '?'} ${j.outcome?.resultCid ?? ''}` : j.state === 'failed' || j.state === 'cancelled' ? (j.error?.name ?? '') : (j.phase ?? '')
  return `${j.id}  ${j.state.padEnd(9)} ${String(j.request.module ?? '').padEnd(20)} ${j.createdAt.slice(0, 19).replace('T', ' ')}  ${what}`
}

function eventLine (e: JobProgress): string {
  const t = new Date(e.at).toISOString().slice(11, 23)
  switch (e.type) {
    case 'state': return `${t}  state     ${e.data.state}`
    case 'phase': return `${t}  phase     ${e.data.phase}${e.data.detail !== undefined ? `  ${e.data.detail}` : ''}`
    case 'tx': return `${t}  tx        ${e.data.what} ${e.data.hash} (gas ${e.data.gasUsed})`
    case 'note': return `${t}  note      ${e.data.message}`
    case 'log': return `${t}  ${e.data.stream.padEnd(9)} ${e.data.data.replace(/\n$/, '')}`
  }
}

const JOBS_USAGE = 'lilypad jobs [--state queued|matching|running|done|failed|cancelled] [--limit N] [--chain ID|NAME] [--network N] [--json]'
export const jobs: Command = {
  name: 'jobs',
  summary: 'List the jobs of the node that owns your key, newest first',
  usage: JOBS_USAGE,
  async run (argv) {
    const { id, values } = args(argv, JOBS_USAGE, { state: { type: 'string' }, limit: { type: 'string' }, chain: { type: 'string' } })
    if (id !== undefined) throw usageError('lilypad jobs takes no job id (lilypad job <id> shows one)', JOBS_USAGE)
    const state = values.state as string | undefined
    if (state !== undefined && !STATES.includes(state)) throw usageError(`--state must be one of ${STATES.join(', ')}`, JOBS_USAGE)
    const limitText = values.limit as string | undefined
    if (limitText !== undefined && !/^[1-9]\d{0,3}$/.test(limitText)) throw usageError('--limit must be a whole number from 1 to 9999', JOBS_USAGE)
    const chain = (values.chain as string | undefined)?.trim()
    if (chain !== undefined && !/^[a-z0-9][a-z0-9-]{0,31}$/.test(chain)) throw usageError(`--chain "${chain.slice(0, 40)}" must be a chain id or a chain name of the network file`, JOBS_USAGE)
    const { requireNode, fromApi } = await import('../node-client.ts')
    const { lp } = await requireNode(values.network as string | undefined)
    let list: Job[]
    try { list = await lp.jobs({ ...(state !== undefined ? { state: state as Job['state'] } : {}), ...(limitText !== undefined ? { limit: Number(limitText) } : {}), ...(chain !== undefined ? { chain } : {}) }) } catch (err) { throw await fromApi(err) }
    if (values.json === true) { console.log(JSON.stringify({ jobs: list })); return 0 }
    if (list.length === 0) console.error('no jobs')
    for (const j of list) console.log(line(j))
    return 0
  }
}

const JOB_USAGE = 'lilypad job <id> [--network N] [--json]'
export const job: Command = {
  name: 'job',
  summary: 'Show one job: state, phase, deals, outcome or error, events',
  usage: JOB_USAGE,
  async run (argv) {
    const { id, values } = args(argv, JOB_USAGE)
    if (id === undefined) throw usageError('missing the job id ("lilypad jobs" lists them)', JOB_USAGE)
    const { requireNode, fromApi } = await import('../node-client.ts')
    const { lp } = await requireNode(values.network as string | undefined)
    let j: Job
    try { j = await lp.job(id) } catch (err) { throw await fromApi(err) }
    if (values.json === true) { console.log(JSON.stringify(j)); return 0 }
    console.log(`job      ${j.id}\nstate    ${j.state}${j.phase !== undefined ? ` (phase ${j.phase})` : ''}${j.resumed === true ? ', resumed after a node restart' : ''}\nmodule   ${String(j.request.module)}${j.chainId !== undefined ? `\nchain    ${j.chainId}` : ''}\ncreated  ${j.createdAt}`)
    if (j.dealIds.length > 0) console.log(`deals    ${j.dealIds.join(', ')}`)
    if (j.outcome !== undefined) console.log(`result   ${j.outcome.resultCid}\npath     ${j.outcome.path}\nexit     ${j.outcome.exitCode}${j.outcome.status !== null ? ` (${j.outcome.status.status})` : ''}`)
    if (j.error !== undefined) console.log(`error    ${j.error.name}: ${j.error.message}${j.error.hint !== undefined ? `\nhint     ${j.error.hint}` : ''}`)
    for (const e of j.events ?? []) console.log(`  ${eventLine(e)}`)
    return 0
  }
}

const CANCEL_USAGE = 'lilypad cancel <id> [--network N] [--json]'
export const cancel: Command = {
  name: 'cancel',
  summary: 'Cancel a job: nothing is spent before a deal is agreed; after, the deal runs to its end (it says how the money goes)',
  usage: CANCEL_USAGE,
  async run (argv) {
    const { id, values } = args(argv, CANCEL_USAGE)
    if (id === undefined) throw usageError('missing the job id ("lilypad jobs" lists them)', CANCEL_USAGE)
    const { requireNode, fromApi } = await import('../node-client.ts')
    const { lp } = await requireNode(values.network as string | undefined)
    let a
    try { a = await lp.cancel(id) } catch (err) { throw await fromApi(err) }
    if (values.json === true) { console.log(JSON.stringify(a)); return 0 }
    console.log(a.cancelled ? `job ${a.id} cancelled: ${a.money}` : `job ${a.id} was not stopped (${a.state}): ${a.money}`)
    return 0
  }
}

const LOGS_USAGE = 'lilypad logs <id> [-f|--follow] [--network N] [--json]'
export const logs: Command = {
  name: 'logs',
  summary: 'Show a job\'s events (phases, transactions, notes, container output); -f follows until the job ends',
  usage: LOGS_USAGE,
  async run (argv) {
    const { id, values } = args(argv, LOGS_USAGE, { follow: { type: 'boolean', short: 'f' } })
    if (id === undefined) throw usageError('missing the job id ("lilypad jobs" lists them)', LOGS_USAGE)
    const { requireNode, fromApi } = await import('../node-client.ts')
    const { lp } = await requireNode(values.network as string | undefined)
    const stop = new AbortController()
    const onSigint = (): void => { stop.abort() }
    process.once('SIGINT', onSigint)
    const all: JobProgress[] = []
    try {
      for await (const e of lp.logs(id, { follow: values.follow === true, signal: stop.signal })) {
        if (values.json === true) all.push(e)
        else console.log(eventLine(e))
      }
    } catch (err) {
      if (!stop.signal.aborted) throw await fromApi(err)
    } finally { process.off('SIGINT', onSigint) }
    if (values.json === true) console.log(JSON.stringify({ id, events: all }))
    return 0
  }
}
