// The audit probability above which cheating does not pay, derived from the Market's own payouts
// (protocols/settlement payoutsOf), not from a formula written down separately.
//
// A provider locks collateral C at agreement. Its net token change when a deal closes in state S is
//   net(S) = Σ payouts of S to the provider − C.
// A cheater skips the work (saves the execution cost c) and returns a wrong result. With audit probability p
// (the Market draws the audit from the submission block's hash), an unaudited wrong result is settled like a right one and
// an audited one is mediated wrong:
//   E[cheater] = (1 − p)·net(Settled) + p·net(MediatedWrong)
//   E[honest]  = (1 − p)·net(Settled) + p·net(MediatedCorrect) − c
// Cheating loses money outright when E[cheater] < 0:
//   p > p_loss = net(Settled) / (net(Settled) − net(MediatedWrong))
// and earns less than honest work (MODiCuM's condition: expected loss when caught ≥ the cost saved) when
// E[cheater] < E[honest]:
//   p·(net(MediatedCorrect) − net(MediatedWrong)) > c   ⇔   p > p_honest = c / (net(MediatedCorrect) − net(MediatedWrong))
// With this Market, net(Settled) = net(MediatedCorrect) = P and net(MediatedWrong) = −C (the collateral goes to
// the job creator, the mediator's fee comes from the job creator's locked fee), so
//   p_loss = P / (P + C)      p_honest = c / (P + C).
import { DealState, payoutsOf, type DealStateValue, type DealTerms } from '../protocols/settlement/index.ts'

export interface ThresholdInputs {
  price: bigint
  collateral: bigint
  mediationFee: bigint
  /** the honest provider's execution cost per job */
  execCost: bigint
}

export interface AuditThreshold {
  /** provider net token change per closing state, in wei (as numbers: ratios only) */
  net: { settled: number, mediatedCorrect: number, mediatedWrong: number }
  /** above this audit probability a cheater's expected profit is negative */
  pLoss: number
  /** above this a cheater earns less than an honest provider (MODiCuM) */
  pHonest: number
  formula: string
  expectedCheaterProfit: (p: number) => number
  expectedHonestProfit: (p: number) => number
}

const RP = '0x00000000000000000000000000000000000000a1'
const JC = '0x00000000000000000000000000000000000000b2'
const MED = '0x00000000000000000000000000000000000000c3'

function net (state: DealStateValue, terms: DealTerms): number {
  let got = 0n
  for (const t of payoutsOf(state, terms, MED)) if (t.account.toLowerCase() === RP) got += t.amount
  return Number(got - terms.collateral)
}

export function auditThreshold (x: ThresholdInputs): AuditThreshold {
  const terms: DealTerms = {
    jobCreator: JC,
    resourceProvider: RP,
    mediators: [MED],
    price: x.price,
    collateral: x.collateral,
    mediationFee: x.mediationFee,
    auditPpm: 0,
    resultTimeout: 0,
    judgeWindow: 0,
    mediateTimeout: 0,
    expiry: 0n,
    nonce: 0n
  }
  const settled = net(DealState.Settled, terms)
  const mediatedCorrect = net(DealState.MediatedCorrect, terms)
  const mediatedWrong = net(DealState.MediatedWrong, terms)
  const c = Number(x.execCost)
  const pLoss = settled / (settled - mediatedWrong)
  const pHonest = c / (mediatedCorrect - mediatedWrong)
  return {
    net: { settled, mediatedCorrect, mediatedWrong },
    pLoss,
    pHonest,
    formula: 'p_loss = P/(P+C): above it cheating loses money; p_honest = c/(P+C): above it cheating earns less than honest work (MODiCuM)',
    expectedCheaterProfit: p => (1 - p) * settled + p * mediatedWrong,
    expectedHonestProfit: p => (1 - p) * settled + p * mediatedCorrect - c
  }
}
