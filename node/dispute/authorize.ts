// Who may pull a dispute case: the mediator the chain drew for that deal, or any member of the committee it drew
// (docs/mediation.md, "Committees"), at the peer id it registered in the Directory contract (the root of trust for
// mediators). Anyone else asking for a case — a curious peer, a competitor, someone fishing for job inputs or making
// us sign — gets the answer an unknown deal gets.
import type { ChainClient } from '../chain/index.ts'
import type { DisputeCase } from '../../protocols/dispute/index.ts'
import { COMMITTEE } from '../../protocols/settlement/index.ts'
import type { PullAuthorizer } from './dispute-service.ts'

type Drawer = Pick<ChainClient, 'dealRecord' | 'directory' | 'committee'>

/** `chain`: the deal's chain, or how to get it (a node's first chain may join after its dispute service starts). */
export function drawnMediatorOnly (of: Drawer | (() => Drawer)): PullAuthorizer {
  return async (c: DisputeCase, from: string): Promise<boolean> => {
    const chain = typeof of === 'function' ? of() : of
    const rec = await chain.dealRecord(c.dealId)
    if (rec.state !== 'Challenged') return false
    const drawn = rec.mediatorIndex === COMMITTEE
      ? (await chain.committee(c.dealId, c.deal.value))?.members ?? []
      : [c.deal.value.mediators[rec.mediatorIndex]]
    for (const mediator of drawn) {
      if (mediator === undefined) continue
      const node = await chain.directory.nodeOf(mediator)
      if (node.peerId === from) return true
    }
    return false
  }
}
