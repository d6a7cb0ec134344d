// The anvil fixture: starts, serves the asked chain id, falls back from a taken port, and stops.
import test from 'ava'
import { JsonRpcProvider, Network } from 'ethers'
import { startAnvil } from './anvil.ts'

test('two devnets preferring port 8545 both start, on different ports, and stop', async t => {
  const a = await startAnvil({ chainId: 1337, preferDefaultPort: true })
  t.teardown(async () => { await a.stop() })
  const b = await startAnvil({ chainId: 1337, preferDefaultPort: true })
  t.teardown(async () => { await b.stop() })
  t.not(a.port, b.port)
  for (const x of [a, b]) {
    const p = new JsonRpcProvider(x.rpcUrl, Network.from(1337), { staticNetwork: true })
    t.is(Number(await p.send('eth_chainId', [])), 1337)
    p.destroy()
  }
  await b.stop()
  const p = new JsonRpcProvider(b.rpcUrl, Network.from(1337), { staticNetwork: true })
  await t.throwsAsync(p.send('eth_chainId', []))
  p.destroy()
})
