// A contract's job through a devnet's job bridge, for the tests that run one: the ExampleClient asks for cowsay, the
// bridge runs it, and the client's callback holds the result.
import { once } from 'node:events'
import type { ExecutionContext } from 'ava'
import type { JobBridge, BridgeJobRecord } from '../../node/roles/job-bridge.ts'
import type { ChainClient } from '../../node/chain/index.ts'
import type { ExampleClientContract } from '../../contracts/generated/index.ts'

/** Resolves with the bridge's record of contract job `jobId` once the bridge completed or failed it. */
export async function bridgeJobEnded (bridge: JobBridge, jobId: bigint): Promise<BridgeJobRecord> {
  for (;;) {
    const [r] = await Promise.race([once(bridge, 'completed'), once(bridge, 'failed')]) as [BridgeJobRecord]
    if (r.id === `job-${jobId}`) return r
  }
}

/**
 * `caller` has the ExampleClient ask for cowsay with `message`; checks that `bridge` completed it and that the
 * client's callback brought the result CID, exit code 0 and the cow. The bridge's record of it.
 */
export async function contractCowsay (t: ExecutionContext, o: { client: ExampleClientContract, caller: ChainClient, bridge: JobBridge, message: string }): Promise<BridgeJobRecord> {
  const jobId = await o.client.runCowsay.staticCall(o.message)
  const done = bridgeJobEnded(o.bridge, jobId)
  await o.caller.queue.send('runCowsay', async () => await o.client.runCowsay.populateTransaction(o.message))
  const rec = await done
  t.is(rec.phase, 'completed', rec.reason)
  t.is(await o.client.results(jobId), rec.resultCid ?? '')
  t.is(await o.client.exitCodes(jobId), 0n)
  t.true(Buffer.from((await o.client.outputs(jobId)).slice(2), 'hex').toString().includes(`< ${o.message} >`), 'the cow says the message')
  return rec
}
