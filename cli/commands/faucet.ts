import { parseArgs } from 'node:util'
import type { Command } from '../command.ts'
import { UserError } from '../errors.ts'
import { usageError, looksLikeAddress, formatLP } from '../usage.ts'
import type { ChainClient } from '../../node/chain/index.ts'

const USAGE = 'lilypad faucet [--address ADDR] [--network N]'

export const faucet: Command = {
  name: 'faucet',
  summary: 'Claim LP tokens from the network\'s faucet',
  usage: USAGE,
  async run (argv) {
    let v
    try { v = parseArgs({ args: argv, options: { address: { type: 'string' }, network: { type: 'string', short: 'n' } } }) } catch (err) { throw usageError((err as Error).message, USAGE) }
    if (v.values.address !== undefined && !looksLikeAddress(v.values.address)) throw usageError(`--address "${v.values.address}" is not an Ethereum address`, USAGE)
    const { resolveNetworkAndKey, toUserError } = await import('../context.ts')
    const { ChainClient } = await import('../../node/chain/index.ts')
    const { getAddress } = await import('ethers')
    const { loaded, wallet } = await resolveNetworkAndKey(v.values.network)
    if (loaded.network.contracts.faucet === undefined) throw new UserError(`the network "${loaded.network.networkId}" has no faucet`, { hint: 'ask the network\'s operator for LP' })
    let chain: ChainClient | undefined
    try {
      chain = await ChainClient.create({ network: loaded.network, privateKey: wallet.privateKey })
      const to = getAddress(v.values.address ?? wallet.address)
      const c = chain
      const f = c.faucet!
      await c.queue.send('claimTo', async () => await f.claimTo.populateTransaction(to))
      console.log(`claimed LP for ${to}; balance ${formatLP(await c.tokenBalance(to))} LP`)
      return 0
    } catch (err) {
      throw toUserError(err)
    } finally {
      await chain?.stop()
    }
  }
}
