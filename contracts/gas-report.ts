// Gas per function and per job path, measured on a fresh anvil devnet (steady state: deposits and nonce words
// already warm, as for a node that has run a few jobs). `npm run gas` prints a table; `--json` prints one object.
// Exported for `lilypad bench`.
import { fileURLToPath } from 'node:url'
import { parseEther } from 'ethers'
import { startDevnet, agreeDeal, agreeJobDeal, increaseTime, committeeDispute, COWSAY, type Devnet } from './fixture.ts'
import type { CommitteeRules } from '../protocols/settlement/committee.ts'
import { requestedJobId, type ChainClient, type GasEntry } from '../node/chain/index.ts'
import { signMessage, type Deal } from '../protocols/eip712.ts'
import { DealState } from '../protocols/settlement/market.ts'
import { connectRevertingClient, revertingClientFactory } from './generated/index.ts'

export interface PathCost { gasPerJob: number, txsPerJob: number }

/** Contract-triggered jobs (JobManager), steady state. */
export interface ContractJobGas {
  /** runJob with one short input (the client's transaction; its token approval not counted) */
  request: number
  pickUp: number
  /** completeJob for a contract client whose callback takes the output without storing it, empty output */
  complete: number
  /** what each byte of inline output adds to completeJob (calldata, event, callback), from 0 vs 1,024 bytes */
  perCallbackByte: number
  /** release, per job in a batch of ten */
  releasePerJob: number
  /** request + pickUp + complete (empty output) + release: the contract-job path's own gas, without the deal */
  perJob: number
}
export interface GasReport {
  happy: PathCost
  /** Steady state of a busy provider: each submitResult also settles its previous deal. */
  happyPiggyback: PathCost
  happyAccepted: PathCost
  /** The job creator's acceptance signed off chain, settled with the result: agree + submitAcceptedResult. */
  happyAcceptedOffChain: PathCost
  challengedCorrect: PathCost
  challengedWrong: PathCost
  audited: PathCost
  /** A deal with audits (1 ppm), accepted off chain, the draw missed: agree + submitAcceptedResult + drawAudit. */
  auditMissedAccepted: PathCost
  timeoutResult: PathCost
  timeoutMediation: PathCost
  /**
   * A dispute judged by a committee of three (deal naming three bonded mediators), from the challenge to the vote's close:
   * all three vote alike; one votes against the other two; one never votes (the other two reveal once the commit
   * window has passed). The last reveal closes the vote: no finalize transaction.
   */
  committee: { unanimous: PathCost, oneLiar: PathCost, oneAbsent: PathCost }
  /** the unanimous committee path when each member votes for the first time (its commitment slot still empty) */
  committeeFirstVotes: PathCost
  batchedSettlementPerDeal: number
  batchSize: number
  firstDealAgree: number
  contractJob: ContractJobGas
  functions: Record<string, { calls: number, min: number, avg: number, max: number }>
}

const BATCH = 10

/** Committees of three on (deals naming two mediators still get one, so every other path is as before). */
const GAS_COMMITTEE: CommitteeRules = { size: 3, commitWindow: 600, revealWindow: 600, unbondDelay: 61 * 86_400, minBond: parseEther('50'), slash: parseEther('5') }

export async function gasReport (): Promise<GasReport> {
  const net = await startDevnet({ committee: GAS_COMMITTEE })
  try {
    return await measure(net)
  } finally {
    await net.stop()
  }
}

async function measure (net: Devnet): Promise<GasReport> {
  const clients = net.clients
  const mark = (): number[] => clients.map(c => c.gasLog.length)
  const since = (m: number[]): GasEntry[] => clients.flatMap((c, i) => c.gasLog.slice(m[i]))
  const total = (es: GasEntry[]): number => es.reduce((s, e) => s + Number(e.gasUsed), 0)
  const mediatorOf = (addr: string): ChainClient => addr === net.m1.address ? net.m1 : net.m2

  // The very first deal of a job creator pays for a fresh nonce word; record it, then measure warm.
  let m = mark()
  const { deal: first } = await agreeDeal(net)
  const firstDealAgree = total(since(m))
  await net.rp.submitResult(first, 'bafy-warmup')
  await net.jc.accept([first])

  // Happy: agree + submitResult per job, one settle for BATCH jobs after the judge window.
  m = mark()
  const deals: Deal[] = []
  for (let i = 0; i < BATCH; i++) {
    const { deal } = await agreeDeal(net)
    await net.rp.submitResult(deal, `bafy-happy-${i}`)
    deals.push(deal)
  }
  await increaseTime(net.provider, 301)
  const settleMark = mark()
  await net.rp.settle(deals)
  const settleGas = total(since(settleMark))
  const happyGas = total(since(m))

  // A busy provider: every submission also settles the deal before it, whose window has passed by then.
  m = mark()
  let previous: Deal | undefined
  const N = BATCH
  for (let i = 0; i < N + 1; i++) {
    const { deal } = await agreeDeal(net)
    await increaseTime(net.provider, 301)
    await net.rp.submitResult(deal, `bafy-busy-${i}`, { settle: previous !== undefined ? [previous] : [] })
    previous = deal
  }
  // The first job's submission had nothing to settle: count jobs 2..N+1, which each paid for one settlement.
  const busy = since(m).filter(e => e.what !== 'submitResult')
  const piggyGas = total(busy) - Number(busy.find(e => e.what === 'agree')!.gasUsed)
  await increaseTime(net.provider, 301)
  await net.rp.settle([previous!])

  const path = async (run: () => Promise<void>): Promise<PathCost> => {
    const before = mark()
    await run()
    const es = since(before)
    return { gasPerJob: total(es), txsPerJob: es.length }
  }
  const happyAccepted = await path(async () => {
    const { deal } = await agreeDeal(net)
    await net.rp.submitResult(deal, 'bafy-accepted')
    await net.jc.accept([deal])
  })
  const happyAcceptedOffChain = await path(async () => {
    const { deal, id } = await agreeDeal(net)
    const cid = 'bafy-accepted-off-chain'
    await net.rp.submitAcceptedResult(deal, cid, await signMessage('Accept', net.domain, { dealId: id, resultCid: cid }, net.jc.wallet))
  })
  const challenged = async (correct: boolean): Promise<PathCost> => await path(async () => {
    const { deal } = await agreeDeal(net)
    await net.rp.submitResult(deal, `bafy-challenged-${String(correct)}`)
    await mediatorOf(await net.jc.challenge(deal)).mediate(deal, correct)
  })
  const challengedCorrect = await challenged(true)
  const challengedWrong = await challenged(false)
  const audited = await path(async () => {
    const { deal } = await agreeDeal(net, { auditPpm: 1_000_000 })
    await net.rp.submitResult(deal, 'bafy-audited')
    const r = await net.stranger.drawAudit(deal)
    if (r.outcome !== 'audited') throw new Error(`an audit with probability 1 drew ${r.outcome}`)
    await mediatorOf(r.mediator).mediate(deal, true)
  })
  // a deal with audits whose draw missed: the acceptance came with the result, anyone's draw settles it
  const auditMissedAccepted = await path(async () => {
    const { deal, id } = await agreeDeal(net, { auditPpm: 1 })
    const cid = 'bafy-audit-missed'
    await net.rp.submitAcceptedResult(deal, cid, await signMessage('Accept', net.domain, { dealId: id, resultCid: cid }, net.jc.wallet))
    const r = await net.rp.drawAudit(deal)
    if (r.outcome !== 'settled') throw new Error(`a draw at 1 ppm came out ${r.outcome}`)
  })
  // Time jumps between agreement and timeout are not transactions; the timeout call is made by a third party.
  const timeoutResult = await pathWithJump(net, path, 601, async (deal) => { await net.stranger.timeoutResult(deal) }, async (deal) => { await Promise.resolve(deal) })
  const timeoutMediation = await pathWithJump(net, path, 901, async (deal) => { await net.stranger.timeoutMediation(deal) }, async (deal) => {
    await net.rp.submitResult(deal, 'bafy-unjudged')
    await net.jc.challenge(deal)
  })

  const committeePath = async (votes: Array<boolean | null>): Promise<PathCost> => {
    const d = await committeeDispute(net)
    for (let i = 0; i < votes.length; i++) if (votes[i] !== null) await d.commit(d.members[i], votes[i]!)
    if (votes.includes(null)) await increaseTime(net.provider, GAS_COMMITTEE.commitWindow + 1)
    for (let i = 0; i < votes.length; i++) if (votes[i] !== null) await d.reveal(d.members[i], votes[i]!)
    // the last reveal closes the vote itself; finalizeCommittee is for deadlines
    if (Number((await net.jc.market.deals(d.id)).state) === DealState.Challenged) throw new Error('the last reveal left the committee open')
    return { gasPerJob: Number(d.gas), txsPerJob: d.txs }
  }
  // A mediator's first vote ever fills its commitment slot (~17,000 more a member); a mediator that has voted before
  // rewrites it. Record the first, then measure the steady state (as for the job creator's first nonce word).
  const committeeFirstVotes = await committeePath([true, true, true])
  const committee = { unanimous: await committeePath([true, true, true]), oneLiar: await committeePath([false, true, true]), oneAbsent: await committeePath([true, null, true]) }

  const contractJob = await measureContractJob(net)

  const functions: GasReport['functions'] = {}
  for (const e of clients.flatMap(c => c.gasLog)) {
    const name = e.what.replace(/\(\d+\)$/, '')
    const gas = Number(e.gasUsed)
    const f = functions[name] ?? { calls: 0, min: Infinity, avg: 0, max: 0 }
    f.avg = (f.avg * f.calls + gas) / (f.calls + 1)
    f.calls++
    f.min = Math.min(f.min, gas)
    f.max = Math.max(f.max, gas)
    functions[name] = f
  }
  for (const f of Object.values(functions)) f.avg = Math.round(f.avg)
  functions[`settle per deal (batch of ${BATCH})`] = { calls: 1, min: Math.round(settleGas / BATCH), avg: Math.round(settleGas / BATCH), max: Math.round(settleGas / BATCH) }

  return {
    happy: { gasPerJob: Math.round(happyGas / BATCH), txsPerJob: 2 + 1 / BATCH },
    happyPiggyback: { gasPerJob: Math.round(piggyGas / N), txsPerJob: 2 },
    happyAccepted,
    happyAcceptedOffChain,
    challengedCorrect,
    challengedWrong,
    audited,
    auditMissedAccepted,
    timeoutResult,
    timeoutMediation,
    committee,
    committeeFirstVotes,
    batchedSettlementPerDeal: Math.round(settleGas / BATCH),
    batchSize: BATCH,
    firstDealAgree,
    contractJob,
    functions
  }
}

async function measureContractJob (net: Devnet): Promise<ContractJobGas> {
  const gasOf = (c: ChainClient, what: string): number => Number(c.gasLog.filter(e => e.what === what).at(-1)!.gasUsed)
  // a contract client whose callback accepts the output without storing it (RevertingClient once fixed)
  const deployed = await net.admin.queue.send('deploy client', async () => await revertingClientFactory(net.admin.wallet).getDeployTransaction(net.deployment.contracts.jobManager))
  const client = connectRevertingClient(deployed.contractAddress!, net.stranger.wallet)
  await net.stranger.queue.send('fund client', async () => await net.stranger.token.transfer.populateTransaction(deployed.contractAddress!, 10n ** 21n))
  await net.stranger.queue.send('fix client', async () => await client.fix.populateTransaction())
  const order = async (): Promise<bigint> => requestedJobId(await net.stranger.queue.send('order', async () => await client.order.populateTransaction(COWSAY, 200_000, 3600)))
  const run = async (output: Uint8Array, i: number): Promise<bigint> => {
    const jobId = await order()
    await net.bridge.pickUpJob(jobId)
    const { offer, deal } = await agreeJobDeal(net, { cid: `bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtq${String(i).padStart(6, '0')}` })
    await net.bridge.completeJob(jobId, offer, deal, `bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtq${String(i).padStart(6, '0')}`, 0, output)
    return jobId
  }
  await run(new Uint8Array(0), 0) // warm-up: first-time slots of the bond account and the client
  const ids: bigint[] = []
  const empty: number[] = []
  const full: number[] = []
  for (let i = 1; i <= 10; i++) {
    ids.push(await run(new Uint8Array(i % 2 === 0 ? 1024 : 0).fill(0x41), i))
    ;(i % 2 === 0 ? full : empty).push(gasOf(net.bridge, 'completeJob'))
  }
  // the EOA's runJob with one input, as a dapp user would send it
  await net.stranger.requestJob(COWSAY, { Message: 'moo' }, { callbackGasLimit: 200_000, timeout: 600 })
  const request = gasOf(net.stranger, 'runJob')
  const pickUp = gasOf(net.bridge, 'pickUpJob')
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const complete = median(empty)
  const perCallbackByte = Math.round((median(full) - complete) / 1024 * 10) / 10
  await increaseTime(net.provider, Number((await net.bridge.jobManagerConfig()).disputeWindow) + 1)
  await net.stranger.releaseJobs(ids)
  const releasePerJob = Math.round(gasOf(net.stranger, `release(${ids.length})`) / ids.length)
  return { request, pickUp, complete, perCallbackByte, releasePerJob, perJob: request + pickUp + complete + releasePerJob }
}

async function pathWithJump (net: Devnet, path: (run: () => Promise<void>) => Promise<PathCost>, jump: number, close: (d: Deal) => Promise<void>, before: (d: Deal) => Promise<void>): Promise<PathCost> {
  return await path(async () => {
    const { deal } = await agreeDeal(net)
    await before(deal)
    await increaseTime(net.provider, jump)
    await close(deal)
  })
}

export function formatGasReport (r: GasReport): string {
  const rows: Array<[string, PathCost]> = [
    [`happy (agree + submitResult + settle batched ×${r.batchSize})`, r.happy],
    ['happy, busy provider (agree + submitResultAndSettle)', r.happyPiggyback],
    ['happy, accepted early by the job creator', r.happyAccepted],
    ['challenged, result correct', r.challengedCorrect],
    ['challenged, result wrong', r.challengedWrong],
    ['random audit (auditPpm = 100%, drawn by anyone)', r.audited],
    ['audits on, draw missed (accepted off chain)', r.auditMissedAccepted],
    ['timeout: no result', r.timeoutResult],
    ['timeout: no verdict', r.timeoutMediation],
    ['committee of 3, challenge to close: unanimous', r.committee.unanimous],
    ['committee of 3: one outvoted (slashed)', r.committee.oneLiar],
    ['committee of 3: one absent (slashed)', r.committee.oneAbsent],
    ['committee of 3, unanimous, members\' first votes', r.committeeFirstVotes]
  ]
  const lines = ['Job path                                              gas/job   txs/job', '-'.repeat(74)]
  for (const [name, c] of rows) lines.push(`${name.padEnd(52)} ${String(c.gasPerJob).padStart(9)} ${c.txsPerJob.toFixed(1).padStart(9)}`)
  lines.push('', 'Function                         calls       min       avg       max', '-'.repeat(68))
  for (const [name, f] of Object.entries(r.functions)) {
    if (['fund', 'register', 'depositWithPermit'].includes(name)) continue
    lines.push(`${name.padEnd(30)} ${String(f.calls).padStart(7)} ${String(f.min).padStart(9)} ${String(f.avg).padStart(9)} ${String(f.max).padStart(9)}`)
  }
  const cj = r.contractJob
  lines.push('', 'Contract job (JobManager), gas', '-'.repeat(40),
    `request (runJob, one input)       ${String(cj.request).padStart(9)}`,
    `pickUpJob                         ${String(cj.pickUp).padStart(9)}`,
    `completeJob (empty output)        ${String(cj.complete).padStart(9)}`,
    `  per byte of inline output       ${String(cj.perCallbackByte).padStart(9)}`,
    `release, per job (batch of 10)    ${String(cj.releasePerJob).padStart(9)}`,
    `per job (without the deal)        ${String(cj.perJob).padStart(9)}`)
  lines.push('', `first agree of a job creator (fresh nonce word): ${r.firstDealAgree}`,
    'reference: MODiCuM ≈ 1,160,000 gas / 6 txs per job; Lilypad v2: 4 txs per job')
  return lines.join('\n')
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const report = await gasReport()
  if (process.argv.includes('--json')) {
    const { functions: _f, ...paths } = report
    console.log(JSON.stringify(paths))
  } else {
    console.log(formatGasReport(report))
  }
}
