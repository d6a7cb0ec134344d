// Where a deal's result is: the CID its provider submitted on chain (the Market's ResultSubmitted event for the
// deal id), and the provider's address. Needs no key: the network file's RPC and Market address. `lilypad get
// <dealId>` uses it when no node of the key holds the job, then finds the provider's peer in the directory.
import { openRpc } from '../chain/rpc.ts'
import type { NetworkFile } from '../config/network.ts'
import { decodeMarketLog, marketTopics } from '../../contracts/generated/index.ts'
import { DEAL_ID } from './defaults.ts'

export class NoResultOnChainError extends Error {
  override name = 'NoResultOnChainError'
}

export interface DealResult { dealId: string, resultCid: string, resourceProvider: string, blockNumber: number }

/** Blocks per eth_getLogs (public RPCs cap a range; 2000 is under every common cap). */
const RANGE = 2000

/**
 * The result CID submitted for `dealId`, read from the Market's logs from the network's deploy block to the head.
 * Throws NoResultOnChainError when the deal has no submitted result (unknown deal, or still running).
 */
export async function dealResultOnChain (network: NetworkFile, dealId: string, opts: { signal?: AbortSignal } = {}): Promise<DealResult> {
  if (!DEAL_ID.test(dealId)) throw new TypeError(`"${dealId.slice(0, 80)}" is not a deal id (0x and 64 hex digits)`)
  const provider = await openRpc(network)
  try {
    const topics = marketTopics('ResultSubmitted', { dealId: dealId.toLowerCase() })
    const head = await provider.getBlockNumber()
    // newest range first: a result is usually recent, and the first hit ends the walk
    for (let to = head; to >= network.deployBlock; to -= RANGE) {
      opts.signal?.throwIfAborted()
      const from = Math.max(network.deployBlock, to - RANGE + 1)
      const logs = await provider.getLogs({ address: network.contracts.market, topics, fromBlock: from, toBlock: to })
      for (const log of logs.reverse()) {
        const e = decodeMarketLog(log)
        if (e?.name === 'ResultSubmitted') return { dealId: dealId.toLowerCase(), resultCid: e.args.resultCid, resourceProvider: e.args.resourceProvider, blockNumber: log.blockNumber }
      }
    }
    throw new NoResultOnChainError(`no result was submitted on chain for deal ${dealId}`)
  } finally {
    provider.destroy()
  }
}
