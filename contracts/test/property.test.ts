// Random action sequences against the real Market on anvil, checked step by step against the pure model in
// protocols/settlement: same success or same named error, same ledger, same deal records; tokens conserved after
// every step; after every deadline has passed and every deal is closed, no deal holds funds. Terms are drawn
// inside and outside the Market's network-wide bounds (zero and over-long windows, far expiries, audits without a
// fee), so the bound checks and their order are compared too. The Market judges disputes of deals naming three
// mediators by committee (size 3): the parties' seed reveals (right, wrong, for another offer, late, withheld), the
// draw, bonds, commits, reveals and finalize are compared the same way, the committee's slot included. Audits are
// drawn from the submission block's hash by anyone's drawAudit, accept or settle (in the submission's own block:
// AuditDrawNotReady; past its 256 hashed blocks: a hit), with the real block hashes in the model; a single mediator
// from the dispute block's hash by anyone's drawMediator or the drawn mediator's mediate (in the dispute's own block:
// MediatorDrawNotReady; past its 256 blocks: MediatorDrawClosed).
// Seeded (LILYPAD_PROPERTY_SEED) so a failure replays; LILYPAD_PROPERTY_RUNS overrides the number of sequences.
import test from 'ava'
import { Interface, Wallet, keccak256, toUtf8Bytes, toBeHex, ZeroHash, ZeroAddress, MaxUint256 } from 'ethers'
import { startDevnet, LP, TEST_BOUNDS, type Devnet } from '../fixture.ts'
import { MarketAbi, LilypadTokenAbi } from '../generated/index.ts'
import { idOf, signMessage, type Deal, type JobOffer, type ResourceOffer } from '../../protocols/eip712.ts'
import { offerWords, offerIdFromWords, seedCommitOf } from '../../protocols/settlement/seed.ts'
import { apply, emptyMarket, depositOf, totalHeld, isFinal, heldBy, DealState, COMMITTEE, UNDRAWN, type MarketModel, type MarketAction, type MarketBounds } from '../../protocols/settlement/index.ts'
import { voteCommitment, Vote, type CommitteeRules } from '../../protocols/settlement/committee.ts'
import { decodeRevert, revertDataOf, toStruct } from '../../node/chain/index.ts'

const RUNS = Number(process.env.LILYPAD_PROPERTY_RUNS ?? 500)
const SEED = Number(process.env.LILYPAD_PROPERTY_SEED ?? 20261123)

const market = new Interface(MarketAbi as unknown as string[])
const erc20 = new Interface(LilypadTokenAbi as unknown as string[])
// short windows so that random steps cross them; the bond must outlive the longest result and judge windows (600 s)
// windows + the seed phase (a reveal window) + both vote windows
const COMMITTEE_RULES: CommitteeRules = { size: 3, commitWindow: 400, revealWindow: 400, unbondDelay: 2400, minBond: LP(10), slash: LP(3) }

function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => { // mulberry32
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface Actor { name: string, wallet: Wallet }

/** The two offers a deal names, each committing to its party's seed secret (what a seed reveal proves against). */
interface Seeds { jobOffer: JobOffer, resourceOffer: ResourceOffer, jobSecret: string, providerSecret: string }

function seedsFor (tag: string, jobCreator: string, provider: string, mediators: string[], expiry: bigint): Seeds {
  const jobSecret = keccak256(toUtf8Bytes(`jc seed ${tag}`))
  const providerSecret = keccak256(toUtf8Bytes(`rp seed ${tag}`))
  const spec = { cpu: 1000, ramMb: 64, diskMb: 0, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0 }
  return {
    jobSecret,
    providerSecret,
    jobOffer: { jobCreator, module: 'cowsay:v0.0.1', inputs: `{"Message":"${tag}"}`, spec, maxPrice: LP(100), mediators, target: ZeroAddress, timeout: 60, auditPpm: 0, expiry, nonce: 1n, seedCommit: seedCommitOf(jobSecret) },
    resourceOffer: { provider, slot: 0, spec, modules: [], price: LP(1), collateral: LP(1), mediators, expiry, nonce: 1n, seedCommit: seedCommitOf(providerSecret) }
  }
}

/**
 * A bare JSON-RPC client over fetch (keep-alive): about 2.5x faster per call than ethers' provider here, which
 * matters for thousands of steps. Errors keep the node's error object (with revert data) as `error`.
 */
class Rpc {
  #id = 0
  readonly url: string
  constructor (url: string) { this.url = url }
  async send (method: string, params: unknown[]): Promise<any> {
    return (await this.batch([[method, params]]))[0]
  }

  /** Results in order; throws the first error. */
  async batch (calls: Array<[string, unknown[]]>): Promise<any[]> {
    const body = calls.map(([method, params]) => ({ jsonrpc: '2.0', id: ++this.#id, method, params }))
    const res = await fetch(this.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    const replies = await res.json() as Array<{ id: number, result?: unknown, error?: { message: string, data?: string } }>
    const byId = new Map(replies.map(r => [r.id, r]))
    return body.map(b => {
      const r = byId.get(b.id)!
      if (r.error !== undefined) throw Object.assign(new Error(r.error.message), { error: r.error })
      return r.result
    })
  }

  async call (to: string, data: string): Promise<string> {
    return await this.send('eth_call', [{ to, data }, 'latest'])
  }
}

let net: Devnet
let rpc: Rpc
let bounds: MarketBounds
/** the third mediator (anvil key 10, approved by the fixture when committees are on), so deals can name three */
let m3: Wallet
test.before(async () => {
  // m1 and m2 start with a bond of 15 LP (two slashes take it below the 10 LP minimum), m3 with exactly 10 (any
  // unbonding or slash makes deals naming it fail with MediatorUnbonded)
  net = await startDevnet({ deposit: LP(1000), committee: COMMITTEE_RULES, committeeBonds: [LP(15), LP(15), LP(10)], bounds: { ...TEST_BOUNDS, maxResultTimeout: 600, maxJudgeWindow: 600, maxMediateTimeout: 600, maxDealTtl: 20_000, minMediationFee: 0n } })
  rpc = new Rpc(net.anvil.rpcUrl)
  bounds = await net.admin.marketBounds()
  m3 = net.m3!.wallet
})
test.after.always(async () => { await net?.stop() })

// One random stream for all sequences, in order, so a seed replays the same runs whatever the chunking; chunks
// are separate tests only so that each reports within the test timeout on a loaded machine.
const rnd = prng(SEED)
const CHUNK = 25
/** Every named error the sequences met, so the last test can insist the bound checks were exercised. */
const seen = new Set<string>()
/** Every action kind that succeeded at least once. */
const succeeded = new Set<string>()
/** How seed phases ended: 'drawn', or who withheld ('jc', 'rp', 'both'). */
const seedEndings = new Set<string>()
for (let from = 0; from < RUNS; from += CHUNK) {
  const to = Math.min(RUNS, from + CHUNK)
  test.serial(`random action sequences ${from}..${to - 1} of ${RUNS} agree with the settlement model and conserve tokens`, async t => {
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]
    const chance = (p: number): boolean => rnd() < p
    const marketAddr = net.deployment.contracts.market
    const tokenAddr = net.deployment.contracts.token
    const mk = (name: string, w: Wallet): Actor => ({ name, wallet: w })
    const jcs = [mk('jc', net.jc.wallet), mk('jc2', net.jc2.wallet)]
    const rps = [mk('rp', net.rp.wallet), mk('rp2', net.rp2.wallet)]
    const meds = [mk('m1', net.m1.wallet), mk('m2', net.m2.wallet), mk('m3', m3)]
    const stranger = mk('stranger', net.stranger.wallet)
    const outsider = net.outsider.address // never approved as mediator
    const actors = [...jcs, ...rps, ...meds, stranger, mk('bridge', net.bridge.wallet)] // the bridge holds a deposit too

    async function sendRaw (actor: Actor, to: string, data: string): Promise<number> {
      // anvil's dev accounts are unlocked: it signs and picks the nonce, which also survives evm_revert.
      const hash = await rpc.send('eth_sendTransaction', [{ from: actor.wallet.address, to, data, gas: '0x1e8480' }]) as string
      // Automine usually has the receipt ready when the hash returns, but not always: ask again (each request is
      // the wait; anvil has no receipt event over HTTP) until a wall-clock bound a loaded machine stays inside.
      const until = Date.now() + 30_000
      while (Date.now() < until) {
        const receipt = await rpc.send('eth_getTransactionReceipt', [hash]) as { status: string } | null
        if (receipt != null) return Number(receipt.status)
      }
      throw new Error(`transaction ${hash} was not mined`)
    }
    async function callError (actor: Actor, to: string, data: string): Promise<string | null> {
      try {
        await rpc.send('eth_call', [{ from: actor.wallet.address, to, data }, 'pending'])
        return null
      } catch (err) {
        return decodeRevert(revertDataOf(err))?.name ?? 'UnknownRevert'
      }
    }

    // Unlimited allowance once, so random deposits need no approve step.
    for (const a of actors) await sendRaw(a, tokenAddr, erc20.encodeFunctionData('approve', [marketAddr, MaxUint256]))
    const supply = BigInt(await rpc.call(tokenAddr, erc20.encodeFunctionData('totalSupply')))
    const baseDeposits = await Promise.all(actors.map(async a => BigInt(await rpc.call(marketAddr, market.encodeFunctionData('deposits', [a.wallet.address])))))
    const bondsOf = async (a: Actor): Promise<{ amount: bigint, unbonding: bigint, unbondAt: number }> => {
      const [amount, unbonding, unbondAt] = market.decodeFunctionResult('bonds', await rpc.call(marketAddr, market.encodeFunctionData('bonds', [a.wallet.address])))
      return { amount: BigInt(amount), unbonding: BigInt(unbonding), unbondAt: Number(unbondAt) }
    }
    const baseBonds = await Promise.all(actors.map(bondsOf))
    let nonceSeq = 1_000_000n
    let steps = 0
    let failures = 0

    for (let run = from; run < to; run++) {
      const snapshot = await rpc.send('evm_snapshot', []) as string
      const model: MarketModel = emptyMarket(meds.map(m => m.wallet.address), bounds, COMMITTEE_RULES)
      actors.forEach((a, i) => {
        model.deposits.set(a.wallet.address.toLowerCase(), baseDeposits[i])
        if (baseBonds[i].amount + baseBonds[i].unbonding > 0n) model.bonds.set(a.wallet.address.toLowerCase(), { ...baseBonds[i] })
      })
      /** each committee member's vote and salt, by deal and member, to reveal what was committed */
      const ballots = new Map<string, { vote: number, salt: string, slot?: number }>()
      const terms = new Map<string, Deal>()
      /** the offers each deal names, with both parties' seed secrets */
      const seeds = new Map<string, Seeds>()
      const ids: string[] = []
      const usedNonces = new Map<string, bigint[]>()
      let now = Number((await rpc.send('eth_getBlockByNumber', ['latest', false]) as { timestamp: string }).timestamp)
      const trace: string[] = []

      const check = async (touched: string[]): Promise<void> => {
        const read = (to: string, data: string): [string, unknown[]] => ['eth_call', [{ to, data }, 'latest']]
        const reads = await rpc.batch([
          ...actors.map(a => read(marketAddr, market.encodeFunctionData('deposits', [a.wallet.address]))),
          read(tokenAddr, erc20.encodeFunctionData('balanceOf', [marketAddr])),
          read(tokenAddr, erc20.encodeFunctionData('totalSupply')),
          ...touched.map(id => read(marketAddr, market.encodeFunctionData('deals', [id]))),
          ...meds.map(a => read(marketAddr, market.encodeFunctionData('bonds', [a.wallet.address]))),
          ...touched.map(id => read(marketAddr, market.encodeFunctionData('committees', [id])))
        ])
        const where = `run ${run} (seed ${SEED}):\n${trace.join('\n')}`
        actors.forEach((a, i) => {
          if (BigInt(reads[i]) !== depositOf(model, a.wallet.address)) throw new Error(`deposit of ${a.name}: chain ${BigInt(reads[i])} model ${depositOf(model, a.wallet.address)}\n${where}`)
        })
        const held = BigInt(reads[actors.length])
        if (held !== totalHeld(model, terms)) throw new Error(`conservation: market holds ${held}, ledger + live deals ${totalHeld(model, terms)}\n${where}`)
        if (BigInt(reads[actors.length + 1]) !== supply) throw new Error(`total supply changed\n${where}`)
        touched.forEach((id, i) => {
          const [state, since, mediatorIndex, blockNumber, resultHash] = market.decodeFunctionResult('deals', reads[actors.length + 2 + i])
          const m = model.deals.get(id)
          const want = m === undefined ? [0, 0, 0, 0, null] : [m.state, m.since, m.mediatorIndex, m.block, m.resultHash]
          const got = [Number(state), Number(since), Number(mediatorIndex), Number(blockNumber), Number(state) === 0 || BigInt(resultHash) === 0n ? null : resultHash]
          if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`deal ${id.slice(0, 10)}: chain ${JSON.stringify(got)} model ${JSON.stringify(want)}\n${where}`)
        })
        meds.forEach((a, i) => {
          const [amount, unbonding, unbondAt] = market.decodeFunctionResult('bonds', reads[actors.length + 2 + touched.length + i])
          const b = model.bonds.get(a.wallet.address.toLowerCase()) ?? { amount: 0n, unbonding: 0n, unbondAt: 0 }
          if (BigInt(amount) !== b.amount || BigInt(unbonding) !== b.unbonding || Number(unbondAt) !== b.unbondAt) throw new Error(`bond of ${a.name}: chain ${String(amount)}/${String(unbonding)}/${String(unbondAt)} model ${b.amount}/${b.unbonding}/${b.unbondAt}\n${where}`)
        })
        // the committee's slot: before the draw its seed block and who revealed; after it the members, in draw order
        touched.forEach((id, i) => {
          const c = market.decodeFunctionResult('committees', reads[actors.length + 2 + touched.length + meds.length + i])
          const [drawnAt, , k, , , , , members, seedBlock, seedBits] = c.map(x => BigInt(x))
          const deal = terms.get(id)
          const phase = model.seedPhases.get(id)
          const drawn = model.committees.get(id)
          const got = { k: Number(k), drawnAt: Number(drawnAt), seedBlock: Number(drawnAt) === 0 ? Number(seedBlock) : 0, seeds: Number(drawnAt) === 0 ? Number(seedBits) & 3 : 3, members: Number(drawnAt) === 0 ? [] : Array.from({ length: Number(k) }, (_, j) => deal!.mediators[Number((members >> BigInt(8 * j)) & 0xffn)].toLowerCase()) }
          const want = phase !== undefined
            ? { k: 3, drawnAt: 0, seedBlock: phase.seedBlock, seeds: (phase.jobCreatorSecret !== null ? 1 : 0) | (phase.providerSecret !== null ? 2 : 0), members: [] }
            : drawn !== undefined
              ? { k: drawn.members.length, drawnAt: drawn.drawnAt, seedBlock: 0, seeds: 3, members: drawn.members.map(m => m.toLowerCase()) }
              : { k: 0, drawnAt: 0, seedBlock: 0, seeds: 0, members: [] }
          if (got.k === 0) { got.seeds = 0; got.seedBlock = 0 }
          if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`committee of ${id.slice(0, 10)}: chain ${JSON.stringify(got)} model ${JSON.stringify(want)}\n${where}`)
        })
      }

      /**
       * The hashes of the blocks the model may read: each pending submission's (its audit draw) and each seed phase's,
       * as the chain has them (blocks before `number`; BLOCKHASH reads nothing older than 256 blocks, nor do the rules).
       */
      const hashesFor = async (number: number): Promise<(n: number) => string> => {
        const wanted = new Set<number>()
        for (const r of model.deals.values()) {
          const drawing = r.state === DealState.ResultSubmitted || (r.state === DealState.Challenged && r.mediatorIndex === UNDRAWN)
          if (drawing && r.block < number && r.block >= number - 256) wanted.add(r.block)
        }
        for (const p of model.seedPhases.values()) if (p.seedBlock < number) wanted.add(p.seedBlock)
        const list = [...wanted]
        const blocks = list.length === 0 ? [] : await rpc.batch(list.map(n => ['eth_getBlockByNumber', [toBeHex(n), false]])) as Array<{ hash: string }>
        const byNumber = new Map(list.map((n, i) => [n, blocks[i].hash]))
        return n => byNumber.get(n) ?? ZeroHash
      }

      /**
       * Runs one action on chain and in the model at time `now`, and insists they agree. A dry run on a copy of the
       * model predicts it: an audit draw and a single mediator's draw read the hash of a block already made, which the
       * model is given.
       */
      const act = async (caller: Actor, action: MarketAction, data: string, touched: string[]): Promise<void> => {
        await rpc.send('evm_setNextBlockTimestamp', [now])
        // automine: the transaction (or the failing call, against the pending block) lands in the next block
        const number = Number(await rpc.send('eth_blockNumber', [])) + 1
        const blockHashOf = await hashesFor(number)
        const dry: MarketModel = { ...model, deposits: new Map(model.deposits), deals: new Map(model.deals), usedNonces: new Set(model.usedNonces), bonds: new Map([...model.bonds].map(([k, b]) => [k, { ...b }])), committees: new Map(model.committees), seedPhases: new Map(model.seedPhases), voteSlots: new Map([...model.voteSlots].map(([k, v]) => [k, new Map(v)])) }
        const predicted = apply(dry, action, { now, number, blockHashOf })
        trace.push(`  t=${now} ${caller.name} ${action.kind} → ${predicted.ok ? 'ok' : predicted.error}`)
        steps++
        if (predicted.ok) {
          const status = await sendRaw(caller, marketAddr, data)
          if (status !== 1) throw new Error(`model says ok, chain reverted\nrun ${run}:\n${trace.join('\n')}`)
          const applied = apply(model, action, { now, number, blockHashOf })
          if (!applied.ok) throw new Error(`model changed its mind: ${applied.error}`)
          succeeded.add(action.kind)
          if (applied.seed !== undefined) seedEndings.add('drawn')
          const w = applied.settlement?.withheld
          if (w !== undefined) seedEndings.add(w.jobCreator && w.provider ? 'both' : w.jobCreator ? 'jc' : 'rp')
        } else {
          failures++
          seen.add(predicted.error)
          const got = await callError(caller, marketAddr, data)
          if (got !== predicted.error) throw new Error(`model says ${predicted.error}, chain says ${got ?? 'ok'}\nrun ${run}:\n${trace.join('\n')}`)
        }
        await check(touched)
      }

      /**
       * BLOCKHASH's 256 blocks pass (257 empty blocks). anvil stamps them from the wall clock since the last block it was
       * given a time for, which on a loaded machine can pass `now`: the next step's time is then moved past them.
       */
      const mine257 = async (): Promise<void> => {
        await rpc.send('anvil_mine', ['0x101'])
        const latest = Number((await rpc.send('eth_getBlockByNumber', ['latest', false]) as { timestamp: string }).timestamp)
        if (latest >= now) now = latest + 1
      }

      const jobCreatorOf = (deal: Deal): Actor => jcs.find(a => a.wallet.address === deal.jobCreator)!

      /**
       * Two transactions in one block, the first expected to succeed and the second to fail as the model says (the
       * second sees the first's block as pending, so a rule about "the block the dispute or submission is in" applies).
       */
      const sameBlock = async (first: { caller: Actor, action: MarketAction, data: string }, second: { caller: Actor, action: MarketAction, data: string }, touched: string[]): Promise<void> => {
        await rpc.send('evm_setNextBlockTimestamp', [now])
        const number = Number(await rpc.send('eth_blockNumber', [])) + 1
        const blockHashOf = await hashesFor(number)
        await rpc.send('evm_setAutomine', [false])
        let hashes: string[]
        try {
          hashes = [
            await rpc.send('eth_sendTransaction', [{ from: first.caller.wallet.address, to: marketAddr, data: first.data, gas: '0x1e8480' }]) as string,
            await rpc.send('eth_sendTransaction', [{ from: second.caller.wallet.address, to: marketAddr, data: second.data, gas: '0x1e8480' }]) as string
          ]
          await rpc.send('evm_mine', [])
        } finally {
          await rpc.send('evm_setAutomine', [true])
        }
        const receipts = await Promise.all(hashes.map(async h => await rpc.send('eth_getTransactionReceipt', [h]) as { status: string, blockNumber: string }))
        const done = apply(model, first.action, { now, number, blockHashOf })
        const refused = apply(model, second.action, { now, number, blockHashOf })
        trace.push(`  t=${now} ${first.caller.name} ${first.action.kind} + ${second.caller.name} ${second.action.kind} in block ${number} → ${done.ok ? 'ok' : done.error}, ${refused.ok ? 'ok' : refused.error}`)
        steps += 2
        failures++
        const traced = await rpc.send('debug_traceTransaction', [hashes[1], { disableStorage: true, disableStack: true, disableMemory: true }]) as { returnValue?: string }
        const got = decodeRevert(traced.returnValue === undefined || traced.returnValue.startsWith('0x') ? traced.returnValue : `0x${traced.returnValue}`)?.name
        if (!done.ok || Number(receipts[0].status) !== 1 || Number(receipts[1].blockNumber) !== number) throw new Error(`same block, first: model ${done.ok ? 'ok' : done.error}, chain status ${receipts[0].status}\nrun ${run}:\n${trace.join('\n')}`)
        if (refused.ok || Number(receipts[1].status) !== 0 || got !== refused.error) throw new Error(`same block, second: model ${refused.ok ? 'ok' : refused.error}, chain ${got ?? 'ok'}\nrun ${run}:\n${trace.join('\n')}`)
        seen.add(refused.error)
        succeeded.add(first.action.kind)
        await check(touched)
      }

      /**
       * A party's seed reveal: mostly right; now and then a wrong secret, another offer of the same party (with its own
       * right secret), the other party's offer, or words cut short: all SeedMismatch. The second reveal passes the first's
       * secret back (read from its event), now and then none or a wrong one (WrongFirstSeed). Now and then a stranger
       * relays it.
       */
      /**
       * A member's commitment slot: mostly 0 or 1, so that a member on two open committees now and then commits both
       * in one slot and its earlier vote no longer reveals (CommitmentMismatch); now and then a large one.
       */
      let lastSlot = 0
      const voteSlot = (): number => { lastSlot = chance(0.05) ? Math.floor(rnd() * 2 ** 40) : Math.floor(rnd() * 2); return lastSlot }

      const revealSeedAct = async (id: string, provider: boolean, how = chance(0.8) ? 'right' : pick(['guess', 'other', 'swap', 'short', 'wrongFirst'] as const)): Promise<void> => {
        const deal = terms.get(id)!
        const sd = seeds.get(id)!
        const kind = provider ? 'ResourceOffer' : 'JobOffer'
        let words = provider ? offerWords('ResourceOffer', sd.resourceOffer) : offerWords('JobOffer', sd.jobOffer)
        let secret = provider ? sd.providerSecret : sd.jobSecret
        if (how === 'guess') secret = keccak256(toUtf8Bytes(`guess ${run} ${rnd()}`))
        if (how === 'other') {
          const other = seedsFor(`other ${run} ${rnd()}`, deal.jobCreator, deal.resourceProvider, deal.mediators, deal.expiry)
          words = provider ? offerWords('ResourceOffer', other.resourceOffer) : offerWords('JobOffer', other.jobOffer)
          secret = provider ? other.providerSecret : other.jobSecret
        }
        if (how === 'swap') {
          words = provider ? offerWords('JobOffer', sd.jobOffer) : offerWords('ResourceOffer', sd.resourceOffer)
          secret = provider ? sd.jobSecret : sd.providerSecret
        }
        if (how === 'short') words = words.slice(1)
        const proved = offerIdFromWords(kind, net.domain, words, secret)
        const named = provider ? deal.resourceOfferId : deal.jobOfferId
        const party = provider ? rps.find(a => a.wallet.address === deal.resourceProvider)! : jcs.find(a => a.wallet.address === deal.jobCreator)!
        const caller = chance(0.9) ? party : stranger
        const phase = model.seedPhases.get(id)
        let firstSecret = (provider ? phase?.jobCreatorSecret : phase?.providerSecret) ?? ZeroHash
        if (how === 'wrongFirst') firstSecret = chance(0.5) ? ZeroHash : keccak256(toUtf8Bytes(`first ${run} ${rnd()}`))
        await act(caller, { kind: 'revealSeed', dealId: id, terms: deal, provider, secret, proved, named, firstSecret }, market.encodeFunctionData('revealSeed', [toStruct(deal), provider, secret, words, firstSecret]), [id])
      }

      /** A deal between jc and rp naming `mediators`, its offers committing to seed secrets, agreed by the provider. */
      const agreeSeeded = async (tag: string, jc: Actor, rp: Actor, mediators: string[], o: Pick<Deal, 'mediationFee' | 'auditPpm'>): Promise<{ deal: Deal, id: string }> => {
        const sd = seedsFor(tag, jc.wallet.address, rp.wallet.address, mediators, BigInt(now + 10_000))
        const deal: Deal = {
          jobOfferId: idOf('JobOffer', net.domain, sd.jobOffer), resourceOfferId: idOf('ResourceOffer', net.domain, sd.resourceOffer), jobCreator: jc.wallet.address, resourceProvider: rp.wallet.address,
          mediators, price: LP(10), collateral: LP(20), ...o, resultTimeout: 300, judgeWindow: 300, mediateTimeout: 300, expiry: BigInt(now + 10_000), nonce: nonceSeq++
        }
        const id = idOf('Deal', net.domain, deal)
        terms.set(id, deal)
        seeds.set(id, sd)
        ids.push(id)
        const jcSig = await signMessage('Deal', net.domain, deal, jc.wallet)
        await act(rp, { kind: 'agree', dealId: id, terms: deal, signing: { caller: rp.wallet.address, jobCreatorSigner: jc.wallet.address, providerSigner: null } }, market.encodeFunctionData('agree', [toStruct(deal), jcSig, '0x']), [id])
        now += 1
        return { deal, id }
      }

      // now and then m3, bonded at exactly the minimum, starts taking 1 LP out: deals naming it are then refused
      if (chance(0.3)) await act(meds[2], { kind: 'startUnbond', account: m3.address, amount: LP(1) }, market.encodeFunctionData('startUnbond', [LP(1)]), [])
      // a third of the runs open with a committee's dispute (a deal naming all three mediators, audited at its
      // result), which the random steps below then vote on, finalize, or try to end the single-mediator way
      if (chance(0.35)) {
        const [jc, rp] = [pick(jcs), pick(rps)]
        const mediators = [...meds].sort(() => rnd() - 0.5).map(m => m.wallet.address)
        const { deal, id } = await agreeSeeded(`committee ${run}`, jc, rp, mediators, { mediationFee: LP(pick([1, 2, 7])), auditPpm: 1_000_000 })
        const cid = `bafy-committee-${run}`
        if (model.deals.get(id)?.state === DealState.Agreed && chance(0.1)) {
          // a submission and its audit draw in one block: the block's hash is not known inside it (AuditDrawNotReady)
          await sameBlock({ caller: rp, action: { kind: 'submitResult', caller: rp.wallet.address, dealId: id, terms: deal, cid }, data: market.encodeFunctionData('submitResult', [toStruct(deal), cid]) },
            { caller: stranger, action: { kind: 'drawAudit', dealId: id, terms: deal }, data: market.encodeFunctionData('drawAudit', [toStruct(deal)]) }, [id])
          now += 1
        }
        await act(rp, { kind: 'submitResult', caller: rp.wallet.address, dealId: id, terms: deal, cid }, market.encodeFunctionData('submitResult', [toStruct(deal), cid]), [id])
        now += 1
        const draw = { caller: stranger, action: { kind: 'drawAudit', dealId: id, terms: deal } as MarketAction, data: market.encodeFunctionData('drawAudit', [toStruct(deal)]) }
        if (model.deals.get(id)?.state === DealState.ResultSubmitted && chance(0.1)) {
          // the audit draw and the job creator's reveal in one block: nobody may reveal before the dispute's block is
          // made (SeedRevealNotOpen)
          const sd = seeds.get(id)!
          const reveal = { caller: jobCreatorOf(deal), action: { kind: 'revealSeed', dealId: id, terms: deal, provider: false, secret: sd.jobSecret, proved: offerIdFromWords('JobOffer', net.domain, offerWords('JobOffer', sd.jobOffer), sd.jobSecret), named: deal.jobOfferId } as MarketAction, data: market.encodeFunctionData('revealSeed', [toStruct(deal), false, sd.jobSecret, offerWords('JobOffer', sd.jobOffer), ZeroHash]) }
          await sameBlock(draw, reveal, [id])
        } else {
          await act(draw.caller, draw.action, draw.data, [id])
        }
        if (model.seedPhases.has(id)) {
          // the seed phase: each party reveals (in either order) or withholds, now and then wrongly, late, or after
          // BLOCKHASH's 256 blocks; a finalize may come too early (SeedRevealOpen) or end a withheld phase
          const order = chance(0.5) ? [false, true] : [true, false]
          for (const provider of order) {
            if (chance(0.12)) continue
            now += chance(0.06) ? COMMITTEE_RULES.revealWindow + 1 : 1
            if (chance(0.03)) await mine257()
            await revealSeedAct(id, provider)
            if (chance(0.1)) await revealSeedAct(id, provider, 'right')
          }
          if (model.seedPhases.has(id)) {
            now += chance(0.3) ? 1 : COMMITTEE_RULES.revealWindow + 1
            await act(stranger, { kind: 'finalizeCommittee', dealId: id, terms: deal }, market.encodeFunctionData('finalizeCommittee', [toStruct(deal)]), [id])
          }
        }
        const c = model.committees.get(id)
        if (c !== undefined && chance(0.6)) {
          // a whole vote, each member doing something: commit any vote (now and then one the Market does not know)
          // or nothing, then reveal it (now and then another) or not, then finalize; the random steps below may
          // then find the deal closed
          const members = c.members.map(a => meds.find(m => m.wallet.address.toLowerCase() === a.toLowerCase())!)
          const plan = members.map(() => ({ vote: chance(0.05) ? 3 : pick([Vote.Correct, Vote.Correct, Vote.Wrong, Vote.NoCase]), salt: toBeHex(BigInt(Math.floor(rnd() * 2 ** 48)), 32), commits: chance(0.85), reveals: chance(0.85), lies: chance(0.08), slot: 0 }))
          for (const [i, m] of members.entries()) {
            if (!plan[i].commits) continue
            now += 1
            const commitment = voteCommitment(id, m.wallet.address, plan[i].vote, plan[i].salt)
            await act(m, { kind: 'commitVote', caller: m.wallet.address, dealId: id, terms: deal, commitment, slot: voteSlot() }, market.encodeFunctionData('commitVote', [toStruct(deal), commitment, lastSlot]), [id])
            plan[i].slot = lastSlot
          }
          now += plan.every(p => p.commits) ? 1 : COMMITTEE_RULES.commitWindow
          for (const [i, m] of members.entries()) {
            if (!plan[i].reveals) continue
            now += 1
            const vote = plan[i].lies ? (plan[i].vote + 1) % 3 : plan[i].vote
            // now and then the wrong slot named (CommitmentMismatch)
            const slot = chance(0.05) ? plan[i].slot + 1 : plan[i].slot
            await act(m, { kind: 'revealVote', caller: m.wallet.address, dealId: id, terms: deal, vote, salt: plan[i].salt, slot }, market.encodeFunctionData('revealVote', [toStruct(deal), vote, plan[i].salt, slot]), [id])
          }
          now += chance(0.5) ? 1 : COMMITTEE_RULES.revealWindow + 1
          await act(stranger, { kind: 'finalizeCommittee', dealId: id, terms: deal }, market.encodeFunctionData('finalizeCommittee', [toStruct(deal)]), [id])
        }
      }
      // a tenth of the runs open with a single mediator's dispute: the challenge and a draw in its own block
      // (MediatorDrawNotReady), then the draw now, late (past its 256 blocks: MediatorDrawClosed) or never, and the
      // drawn mediator's verdict or the window's end
      if (chance(0.1)) {
        const [jc, rp] = [pick(jcs), pick(rps)]
        const { deal, id } = await agreeSeeded(`single ${run}`, jc, rp, [meds[0].wallet.address, meds[1].wallet.address], { mediationFee: LP(2), auditPpm: 0 })
        await act(rp, { kind: 'submitResult', caller: rp.wallet.address, dealId: id, terms: deal, cid: `bafy-single-${run}` }, market.encodeFunctionData('submitResult', [toStruct(deal), `bafy-single-${run}`]), [id])
        now += 1
        const drawOf = { caller: stranger, action: { kind: 'drawMediator', dealId: id, terms: deal } as MarketAction, data: market.encodeFunctionData('drawMediator', [toStruct(deal)]) }
        await sameBlock({ caller: jc, action: { kind: 'challenge', caller: jc.wallet.address, dealId: id, terms: deal }, data: market.encodeFunctionData('challenge', [toStruct(deal)]) }, drawOf, [id])
        now += 1
        if (chance(0.3)) await mine257()
        if (chance(0.8)) await act(pick([stranger, jc, rp, ...meds]), drawOf.action, drawOf.data, [id])
        now += chance(0.8) ? 5 : deal.mediateTimeout + 1
        const rec = model.deals.get(id)!
        const drawn = meds.find(m => m.wallet.address === deal.mediators[rec.mediatorIndex]) ?? pick(meds)
        const correct = chance(0.5)
        await act(drawn, { kind: 'mediate', caller: drawn.wallet.address, dealId: id, terms: deal, resultCorrect: correct }, market.encodeFunctionData('mediate', [toStruct(deal), correct]), [id])
      }
      const length = 6 + Math.floor(rnd() * 8)
      for (let s = 0; s < length; s++) {
        const r = rnd()
        // a committee's dispute is picked more often than its share, and its steps come closer together, or its vote
        // windows (400 s) pass before its members have acted
        const disputes = [...model.committees.keys(), ...model.seedPhases.keys()]
        const known = disputes.length > 0 && chance(0.3) ? pick(disputes) : ids.length > 0 ? pick(ids) : undefined
        const committeeStep = known !== undefined && (model.committees.has(known) || model.seedPhases.has(known)) && chance(0.6)
        now += committeeStep ? pick([1, 2, 5, 30, 61, 200, 450]) : pick([1, 1, 2, 5, 30, 61, 200, 301, 700])
        if (r < 0.3 || known === undefined) {
          const jc = pick(jcs)
          const rp = pick(rps)
          const fee = LP(pick([0, 1, 2, 5]))
          const prior = usedNonces.get(jc.name) ?? []
          const nonce = prior.length > 0 && chance(0.08) ? pick(prior) : nonceSeq++
          usedNonces.set(jc.name, [...prior, nonce])
          const mediators = chance(0.05)
            ? [meds[0].wallet.address, outsider]
            : chance(0.35)
              ? (chance(0.06) ? [meds[0], meds[1], meds[0]] : [...meds].sort(() => rnd() - 0.5)).map(m => m.wallet.address)
              : chance(0.5) ? [meds[0].wallet.address, meds[1].wallet.address] : [pick(meds).wallet.address]
          const sd = seedsFor(`job ${run} ${s}`, jc.wallet.address, rp.wallet.address, mediators, BigInt(now + 10_000))
          const deal: Deal = {
            jobOfferId: idOf('JobOffer', net.domain, sd.jobOffer),
            resourceOfferId: idOf('ResourceOffer', net.domain, sd.resourceOffer),
            jobCreator: jc.wallet.address,
            resourceProvider: rp.wallet.address,
            mediators,
            price: chance(0.05) ? LP(5000) : LP(1 + Math.floor(rnd() * 50)),
            collateral: chance(0.05) ? 0n : fee + LP(Math.floor(rnd() * 60)),
            mediationFee: fee,
            auditPpm: chance(0.02) ? 1_000_001 : pick([0, 0, 0, 300_000, 1_000_000]),
            // mostly inside the bounds (10..600 s); now and then 0 (the zero-window theft) or past the maximum
            resultTimeout: chance(0.04) ? pick([0, 5, 601]) : pick([10, 60, 300]),
            judgeWindow: chance(0.04) ? pick([0, 9, 601]) : pick([10, 60, 300]),
            mediateTimeout: chance(0.04) ? pick([0, 1, 700]) : pick([10, 60, 300]),
            expiry: BigInt(chance(0.05) ? now - 1 : chance(0.04) ? now + 20_001 : now + 10_000),
            nonce
          }
          const id = idOf('Deal', net.domain, deal)
          // Mostly the provider sends it with its own signature left out (as `lilypad run` does); now and then the
          // job creator or a stranger, with a signature left out, made by someone else, or both given.
          const caller = chance(0.75) ? rp : pick([jc, stranger, pick(rps), pick(jcs)])
          const signerOf = (party: Actor): Actor | null => {
            if (caller === party && chance(0.7)) return null
            if (chance(0.06)) return null
            return chance(0.05) ? pick([stranger, ...rps, ...jcs].filter(a => a !== party)) : party
          }
          const jcSigner = signerOf(jc)
          const rpSigner = signerOf(rp)
          const sigOf = async (a: Actor | null): Promise<string> => a === null ? '0x' : await signMessage('Deal', net.domain, deal, a.wallet)
          const [jcSig, rpSig] = await Promise.all([sigOf(jcSigner), sigOf(rpSigner)])
          terms.set(id, deal)
          if (!seeds.has(id)) seeds.set(id, sd)
          if (!ids.includes(id)) ids.push(id)
          const signing = { caller: caller.wallet.address, jobCreatorSigner: jcSigner?.wallet.address ?? null, providerSigner: rpSigner?.wallet.address ?? null }
          await act(caller, { kind: 'agree', dealId: id, terms: deal, signing }, market.encodeFunctionData('agree', [toStruct(deal), jcSig, rpSig]), [id])
        } else {
          const deal = terms.get(known)!
          const jcOf = jcs.find(a => a.wallet.address === deal.jobCreator)!
          const rpOf = rps.find(a => a.wallet.address === deal.resourceProvider)!
          const batchOf = (): string[] => [known, ...ids.filter(() => chance(0.3))].slice(0, 4)
          if (committeeStep && model.seedPhases.has(known)) {
            // a dispute waiting for seeds: a party reveals (now and then wrongly), anyone tries to finalize, or a
            // mediator tries to vote before the draw
            const phase = model.seedPhases.get(known)!
            const k = rnd()
            if (k < 0.6) await revealSeedAct(known, phase.jobCreatorSecret !== null ? true : phase.providerSecret !== null ? false : chance(0.5))
            else if (k < 0.7) await revealSeedAct(known, chance(0.5), 'right')
            else if (k < 0.85) await act(stranger, { kind: 'finalizeCommittee', dealId: known, terms: deal }, market.encodeFunctionData('finalizeCommittee', [toStruct(deal)]), [known])
            else {
              const m = pick(meds)
              if (chance(0.5)) {
                const commitment = voteCommitment(known, m.wallet.address, Vote.Correct, ZeroHash)
                await act(m, { kind: 'commitVote', caller: m.wallet.address, dealId: known, terms: deal, commitment, slot: voteSlot() }, market.encodeFunctionData('commitVote', [toStruct(deal), commitment, lastSlot]), [known])
              } else {
                await act(m, { kind: 'revealVote', caller: m.wallet.address, dealId: known, terms: deal, vote: Vote.Correct, salt: ZeroHash, slot: 0 }, market.encodeFunctionData('revealVote', [toStruct(deal), Vote.Correct, ZeroHash, 0]), [known])
              }
            }
          } else if (committeeStep) {
            // a committee's dispute: a member mostly does what its phase asks (commit, then reveal, then anyone
            // finalizes); now and then anything else, or a stranger
            const c = model.committees.get(known)!
            const i = Math.floor(rnd() * c.members.length)
            const member = meds.find(m => m.wallet.address.toLowerCase() === c.members[i].toLowerCase())!
            const caller = chance(0.85) ? member : chance(0.5) ? stranger : pick(actors)
            const due = c.commitments[i] === null ? 'commit' : c.votes[i] === null ? 'reveal' : 'finalize'
            const what = chance(0.8) ? due : pick(['commit', 'reveal', 'finalize', 'single'] as const)
            const ballotKey = `${known}:${caller.wallet.address}`
            if (what === 'commit') {
              // mostly a verdict; now and then "no case"; rarely a vote the Market does not know (InvalidVote)
              const ballot = { vote: chance(0.03) ? 3 : chance(0.15) ? Vote.NoCase : chance(0.6) ? Vote.Correct : Vote.Wrong, salt: toBeHex(BigInt(Math.floor(rnd() * 2 ** 48)), 32) }
              const commitment = voteCommitment(known, caller.wallet.address, ballot.vote, ballot.salt)
              const before = model.committees.get(known)
              await act(caller, { kind: 'commitVote', caller: caller.wallet.address, dealId: known, terms: deal, commitment, slot: voteSlot() }, market.encodeFunctionData('commitVote', [toStruct(deal), commitment, lastSlot]), [known])
              if (model.committees.get(known) !== before) ballots.set(ballotKey, { ...ballot, slot: lastSlot })
            } else if (what === 'reveal') {
              const ballot = ballots.get(ballotKey) ?? { vote: Vote.Correct, salt: ZeroHash }
              // now and then a vote the Market does not know (InvalidVote), or another than the one committed
              // (CommitmentMismatch)
              const vote = chance(0.1) ? 3 : chance(0.15) ? (ballot.vote + 1) % 3 : ballot.vote
              await act(caller, { kind: 'revealVote', caller: caller.wallet.address, dealId: known, terms: deal, vote, salt: ballot.salt, slot: ballot.slot ?? 0 }, market.encodeFunctionData('revealVote', [toStruct(deal), vote, ballot.salt, ballot.slot ?? 0]), [known])
            } else if (what === 'finalize') {
              await act(stranger, { kind: 'finalizeCommittee', dealId: known, terms: deal }, market.encodeFunctionData('finalizeCommittee', [toStruct(deal)]), [known])
            } else if (chance(0.5)) {
              // a committee's dispute has no single mediator: mediate and timeoutMediation are refused
              await act(caller, { kind: 'mediate', caller: caller.wallet.address, dealId: known, terms: deal, resultCorrect: true }, market.encodeFunctionData('mediate', [toStruct(deal), true]), [known])
            } else {
              await act(stranger, { kind: 'timeoutMediation', dealId: known, terms: deal }, market.encodeFunctionData('timeoutMediation', [toStruct(deal)]), [known])
            }
          } else if (r < 0.45) {
            const caller = chance(0.9) ? rpOf : pick(actors)
            const cid = chance(0.03) ? '' : `bafy-${run}-${s}`
            if (chance(0.3)) {
              // The job creator's acceptance signed off chain: mostly right; now and then by someone else, for
              // another deal or for another result, which the Market must refuse as InvalidSignature.
              const signer = chance(0.85) ? jcOf : pick([...rps, stranger, ...jcs])
              const accepted = { dealId: chance(0.9) ? known : pick(ids), resultCid: chance(0.9) ? cid : `bafy-other-${run}-${s}` }
              const sig = await signMessage('Accept', net.domain, accepted, signer.wallet)
              await act(caller, { kind: 'submitAcceptedResult', caller: caller.wallet.address, dealId: known, terms: deal, cid, acceptance: { signer: signer.wallet.address, ...accepted } },
                market.encodeFunctionData('submitAcceptedResult', [toStruct(deal), cid, sig]), [known])
              // a job creator that accepted a deal with audits, awaiting its draw, then challenges: AlreadyAccepted
              if (model.deals.get(known)?.state === DealState.ResultSubmitted && chance(0.6)) {
                now += 1
                await act(jcOf, { kind: 'challenge', caller: jcOf.wallet.address, dealId: known, terms: deal }, market.encodeFunctionData('challenge', [toStruct(deal)]), [known])
              }
            } else if (chance(0.3)) {
              // Listing the deal being submitted would make the outcome hang on the audit draw (JudgeWindowOpen
              // or WrongState), which the dry run cannot know; a provider has no reason to do it.
              const ready = ids.filter(id => id !== known && chance(0.3)).slice(0, 3)
              await act(caller, { kind: 'submitResultAndSettle', caller: caller.wallet.address, dealId: known, terms: deal, cid, ready: ready.map(id => ({ dealId: id, terms: terms.get(id)! })) },
                market.encodeFunctionData('submitResultAndSettle', [toStruct(deal), cid, ready.map(id => toStruct(terms.get(id)!))]), [...new Set([known, ...ready])])
            } else {
              await act(caller, { kind: 'submitResult', caller: caller.wallet.address, dealId: known, terms: deal, cid }, market.encodeFunctionData('submitResult', [toStruct(deal), cid]), [known])
            }
          } else if (r < 0.53) {
            // half the time the one deal alone: a batch with another deal in it mostly fails as a whole
            const batch = chance(0.5) ? [known] : batchOf()
            const caller = chance(0.9) ? jcOf : pick(actors)
            await act(caller, { kind: 'accept', caller: caller.wallet.address, deals: batch.map(id => ({ dealId: id, terms: terms.get(id)! })) }, market.encodeFunctionData('accept', [batch.map(id => toStruct(terms.get(id)!))]), [...new Set(batch)])
          } else if (r < 0.63) {
            // now and then BLOCKHASH's 256 blocks pass first: a draw no one made in time is a hit
            if (chance(0.05)) await mine257()
            if (chance(0.5)) {
              const batch = batchOf()
              await act(stranger, { kind: 'settle', deals: batch.map(id => ({ dealId: id, terms: terms.get(id)! })) }, market.encodeFunctionData('settle', [batch.map(id => toStruct(terms.get(id)!))]), [...new Set(batch)])
            } else {
              // anyone draws a submission's audit: the job creator's node, the provider's, a mediator, a stranger
              const caller = pick([stranger, rpOf, jcOf, ...meds])
              await act(caller, { kind: 'drawAudit', dealId: known, terms: deal }, market.encodeFunctionData('drawAudit', [toStruct(deal)]), [known])
            }
          } else if (r < 0.72) {
            const caller = chance(0.9) ? jcOf : pick(actors)
            const challenge = { caller, action: { kind: 'challenge', caller: caller.wallet.address, dealId: known, terms: deal } as MarketAction, data: market.encodeFunctionData('challenge', [toStruct(deal)]) }
            const single = deal.mediators.length < 3 || new Set(deal.mediators).size < deal.mediators.length
            if (caller === jcOf && single && model.deals.get(known)?.state === DealState.ResultSubmitted && (model.deals.get(known)!.mediatorIndex & 2) === 0 && now <= model.deals.get(known)!.since + deal.judgeWindow && chance(0.3)) {
              // the challenge and a draw of its mediator in one block: the dispute block's hash is not known inside
              // it (MediatorDrawNotReady), so the challenger cannot know whom it gets
              await sameBlock(challenge, { caller: stranger, action: { kind: 'drawMediator', dealId: known, terms: deal }, data: market.encodeFunctionData('drawMediator', [toStruct(deal)]) }, [known])
            } else {
              await act(challenge.caller, challenge.action, challenge.data, [known])
            }
            // a seed reveal for a single mediator's dispute: there is no committee to draw
            if (model.deals.get(known)?.state === DealState.Challenged && model.deals.get(known)?.mediatorIndex !== COMMITTEE && chance(0.3)) await revealSeedAct(known, chance(0.5))
          } else if (r < 0.82) {
            if (chance(0.45)) {
              // anyone draws a single mediator's dispute (now and then after BLOCKHASH's 256 blocks: MediatorDrawClosed)
              if (chance(0.08)) await mine257()
              const caller = pick([stranger, jcOf, rpOf, ...meds])
              await act(caller, { kind: 'drawMediator', dealId: known, terms: deal }, market.encodeFunctionData('drawMediator', [toStruct(deal)]), [known])
              continue
            }
            const rec = model.deals.get(known)
            const selected = rec !== undefined ? deal.mediators[rec.mediatorIndex] : undefined
            const caller = chance(0.8) ? (meds.find(m => m.wallet.address === selected) ?? pick(meds)) : pick(actors)
            const correct = chance(0.5)
            await act(caller, { kind: 'mediate', caller: caller.wallet.address, dealId: known, terms: deal, resultCorrect: correct }, market.encodeFunctionData('mediate', [toStruct(deal), correct]), [known])
          } else if (r < 0.87) {
            if (chance(0.5)) {
              await act(stranger, { kind: 'timeoutResult', dealId: known, terms: deal }, market.encodeFunctionData('timeoutResult', [toStruct(deal)]), [known])
            } else {
              // a mediator moves money into its bond, starts taking it out, or finishes
              const m = pick(meds)
              const b = model.bonds.get(m.wallet.address.toLowerCase())
              const k = rnd()
              if (k < 0.4) {
                const amount = chance(0.05) ? 0n : LP(1 + Math.floor(rnd() * 8))
                await act(m, { kind: 'bond', account: m.wallet.address, amount }, market.encodeFunctionData('bond', [amount]), [])
              } else if (k < 0.7) {
                const amount = chance(0.05) ? 0n : chance(0.1) ? (b?.amount ?? 0n) + 1n : LP(1 + Math.floor(rnd() * 4))
                await act(m, { kind: 'startUnbond', account: m.wallet.address, amount }, market.encodeFunctionData('startUnbond', [amount]), [])
              } else {
                await act(m, { kind: 'finishUnbond', account: m.wallet.address }, market.encodeFunctionData('finishUnbond'), [])
              }
            }
          } else if (r < 0.92) {
            // a seed reveal on any deal: refused unless it is a committee's dispute waiting for seeds
            const single = ids.filter(id => model.deals.get(id)?.state === DealState.Challenged && model.deals.get(id)?.mediatorIndex !== COMMITTEE)
            if (chance(0.3)) await revealSeedAct(single.length > 0 && chance(0.5) ? pick(single) : known, chance(0.5))
            else await act(stranger, { kind: 'timeoutMediation', dealId: known, terms: deal }, market.encodeFunctionData('timeoutMediation', [toStruct(deal)]), [known])
          } else if (r < 0.96) {
            const a = pick(actors)
            const amount = chance(0.05) ? 0n : LP(1 + Math.floor(rnd() * 100))
            await act(a, { kind: 'deposit', account: a.wallet.address, amount }, market.encodeFunctionData('deposit', [amount]), [])
          } else {
            const a = pick(actors)
            const has = depositOf(model, a.wallet.address)
            const amount = chance(0.05) ? 0n : chance(0.2) ? has + 1n : has / 2n
            await act(a, { kind: 'withdraw', account: a.wallet.address, amount }, market.encodeFunctionData('withdraw', [amount]), [])
          }
        }
      }

      // Every deadline passes; anyone closes what is still open (a settle whose audit draw hits starts the audit,
      // which its own deadline then closes). Then no deal may hold funds.
      for (let round = 0; round < 3; round++) {
        now += 10_000
        for (const id of ids) {
          const rec = model.deals.get(id)
          if (rec === undefined || isFinal(rec.state)) continue
          const deal = terms.get(id)!
          now += 1
          if (rec.state === DealState.Agreed) await act(stranger, { kind: 'timeoutResult', dealId: id, terms: deal }, market.encodeFunctionData('timeoutResult', [toStruct(deal)]), [id])
          else if (rec.state === DealState.ResultSubmitted) await act(stranger, { kind: 'settle', deals: [{ dealId: id, terms: deal }] }, market.encodeFunctionData('settle', [[toStruct(deal)]]), [id])
          else if (rec.mediatorIndex === COMMITTEE) await act(stranger, { kind: 'finalizeCommittee', dealId: id, terms: deal }, market.encodeFunctionData('finalizeCommittee', [toStruct(deal)]), [id])
          else await act(stranger, { kind: 'timeoutMediation', dealId: id, terms: deal }, market.encodeFunctionData('timeoutMediation', [toStruct(deal)]), [id])
        }
      }
      for (const id of ids) {
        const rec = model.deals.get(id)
        if (rec !== undefined && heldBy(rec, terms.get(id)!) !== 0n) throw new Error(`deal ${id} still holds funds after every deadline`)
      }
      const held = BigInt(await rpc.call(tokenAddr, erc20.encodeFunctionData('balanceOf', [marketAddr])))
      let deposits = 0n
      for (const v of model.deposits.values()) deposits += v
      for (const b of model.bonds.values()) deposits += b.amount + b.unbonding
      t.is(held, deposits, `run ${run}: after closing everything the market holds exactly the deposits and bonds`)
      await rpc.send('evm_revert', [snapshot])
    }
    t.log(`sequences ${from}..${to - 1}: ${steps} steps (${failures} expected reverts)`)
    t.true(failures > 0 && steps - failures > to - from)
  })
}

test.serial('the sequences met every bound the Market enforces', t => {
  t.log(`succeeded: ${[...succeeded].join(', ')}`)
  for (const e of ['InvalidSignature', 'DealExpiryTooFar', 'ResultTimeoutOutOfBounds', 'JudgeWindowOutOfBounds', 'MediateTimeoutOutOfBounds', 'AuditPpmTooHigh', 'AuditWithoutFee', 'DealExpired', 'NonceUsed', 'InsufficientBalance']) {
    t.true(seen.has(e), `${e} never came up (seen: ${[...seen].join(', ')})`)
  }
  // (mediate seldom finds its deal Challenged and its selected mediator in a random sequence: not required)
  for (const e of ['drawn', 'jc', 'rp', 'both']) t.true(seedEndings.has(e), `no seed phase ended ${e} (seen: ${[...seedEndings].join(', ')})`)
  for (const e of ['MediatorDrawNotReady', 'MediatorDrawClosed', 'MediatorAlreadyDrawn', 'AuditDrawNotReady', 'NoAuditDue', 'AlreadyAccepted', 'SeedRevealNotOpen', 'MediatorUnbonded', 'DuplicateMediator', 'CommitteeDispute', 'NotCommitteeMember', 'CommitmentMismatch', 'InvalidVote', 'SeedMismatch', 'SeedRevealClosed', 'SeedAlreadyRevealed', 'SeedRevealOpen', 'NotACommitteeDispute', 'WrongFirstSeed']) {
    t.true(seen.has(e), `${e} never came up (seen: ${[...seen].join(', ')})`)
  }
  for (const k of ['agree', 'submitResult', 'submitAcceptedResult', 'submitResultAndSettle', 'accept', 'settle', 'drawAudit', 'drawMediator', 'timeoutResult', 'bond', 'startUnbond', 'revealSeed', 'commitVote', 'revealVote', 'finalizeCommittee']) {
    t.true(succeeded.has(k), `${k} never succeeded (succeeded: ${[...succeeded].join(', ')})`)
  }
})
