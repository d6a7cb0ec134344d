// Who may pull a dispute case: the mediator the chain drew for that deal, at the peer id it registered in the
// Directory contract (the root of trust for mediators). Anyone else asking for a case — a curious peer, a
// competitor, someone fishing for job inputs or making us sign — gets the answer an unknown deal gets.
import type { ChainClient } from '../chain/index.ts'
import type { DisputeCase } from '../../protocols/dispute/index.ts'
import type { PullAuthorizer } from './dispute-service.ts'

export function drawnMediatorOnly (chain: Pick<ChainClient, 'dealRecord' | 'directory'>): PullAuthorizer {
  return async (c: DisputeCase, from: string): Promise<boolean> => {
    const rec = await chain.dealRecord(c.dealId)
    if (rec.state !== 'Challenged') return false
    const mediator = c.deal.value.mediators[rec.mediatorIndex]
    if (mediator === undefined) return false
    const node = await chain.directory.nodeOf(mediator)
    return node.peerId === from
  }
}
