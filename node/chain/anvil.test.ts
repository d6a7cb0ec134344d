// The anvil fixture: starts, serves the asked chain id, falls back from a taken port, and stops.
import test from 'ava'
import { JsonRpcProvider, Network } from 'ethers'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
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

test('anvil keeps its past states in a directory of its own, gone once it stops or is killed', async t => {
  const a = await startAnvil()
  t.teardown(async () => { await a.stop() })
  t.true(a.stateDir.startsWith(tmpdir()) && existsSync(a.stateDir), a.stateDir)
  await a.stop()
  t.false(existsSync(a.stateDir), 'removed at stop')
  // killed from outside (an operator's kill -9, a crashed test's cleanup): removed when the process exits
  const b = await startAnvil()
  t.teardown(async () => { await b.stop() })
  process.kill(b.pid, 'SIGKILL')
  await b.stop() // resolves once the process has exited
  t.false(existsSync(b.stateDir), 'removed after a SIGKILL')
})
