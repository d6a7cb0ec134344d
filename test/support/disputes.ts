// Waiting on a mediator node's dispute, for the tests that run mediators on real nodes.
import type { Mediator, DisputeRecord } from '../../node/roles/mediator.ts'

/** Resolves with the mediator's record of the deal's dispute once it is terminal (a verdict given, or abandoned). */
export async function disputeFinished (m: Mediator, dealId: string): Promise<DisputeRecord> {
  return await new Promise((resolve, reject) => {
    const check = (): void => {
      m.records.get(dealId).then(r => {
        if (r?.terminal !== true) return
        m.off('verdict', check)
        m.off('abandoned', check)
        m.driver.off('change', check)
        resolve(r)
      }, reject)
    }
    m.on('verdict', check)
    m.on('abandoned', check)
    // a committee's member records its outcome through the driver (a finalize by another member ends it too)
    m.driver.on('change', check)
    check()
  })
}
