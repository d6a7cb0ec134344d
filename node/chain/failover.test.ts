// RPC failover against real anvils: a chain's RPC URLs are tried in order; a request whose endpoint is down goes on
// to the next (its chain id checked first) and stays there; all down is a named error.
import test from 'ava'
import { createServer } from 'node:net'
import { startAnvil, type Anvil } from './anvil.ts'
import { openRpc } from './rpc.ts'
import { RpcProxy } from '../testing/rpc-proxy.ts'

let a: Anvil
let b: Anvil
test.before(async () => { [a, b] = await Promise.all([startAnvil({ chainId: 31337 }), startAnvil({ chainId: 31338 })]) })
test.after.always(async () => { await Promise.all([a?.stop(), b?.stop()]) })

const fast = { attempts: 2, baseDelayMs: 10, maxDelayMs: 20, timeoutMs: 2000 }

/** A URL nothing listens on (a port taken and given back). */
async function deadUrl (): Promise<string> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const addr = server.address()
  if (addr === null || typeof addr === 'string') throw new Error('no port')
  await new Promise<void>(resolve => server.close(() => { resolve() }))
  return `http://127.0.0.1:${addr.port}`
}

test('a first URL that is down at start: the chain is opened through the next one', async t => {
  const dead = await deadUrl()
  const rpc = await openRpc({ chainId: 31337, rpcUrl: dead, rpcUrls: [dead, a.rpcUrl] }, { retry: fast })
  t.teardown(() => { rpc.destroy() })
  t.is(rpc.rpcUrl, a.rpcUrl)
  t.is(rpc.failovers, 1)
  t.is(await rpc.getBlockNumber(), await rpc.getBlockNumber())
  t.is(rpc.failovers, 1, 'later requests stay on the endpoint that answers')
})

test('an endpoint that goes down mid-way: the next request fails over and every later one stays there', async t => {
  const proxy = await RpcProxy.start(a.rpcUrl)
  t.teardown(async () => { await proxy.stop() })
  const rpc = await openRpc({ chainId: 31337, rpcUrl: proxy.url, rpcUrls: [proxy.url, a.rpcUrl] }, { retry: fast })
  t.teardown(() => { rpc.destroy() })
  const before = await rpc.send('eth_chainId', [])
  t.is(rpc.rpcUrl, proxy.url)
  const seen = proxy.counts.requests
  t.true(seen >= 2)
  proxy.refuse()
  t.is(await rpc.send('eth_chainId', []), before)
  t.is(rpc.rpcUrl, a.rpcUrl)
  t.is(rpc.failovers, 1)
  const refused = proxy.counts.refused
  // (an attempt may die on the kept-alive socket refuse() closed, before the proxy counts it)
  t.true(refused >= 1 && refused <= fast.attempts, 'the down endpoint had its attempts, then was left')
  await rpc.send('eth_blockNumber', [])
  t.is(proxy.counts.refused, refused, 'nothing more went to it')
})

test('an endpoint of another chain is never failed over to: WrongChainError', async t => {
  const proxy = await RpcProxy.start(a.rpcUrl)
  t.teardown(async () => { await proxy.stop() })
  const rpc = await openRpc({ chainId: 31337, rpcUrl: proxy.url, rpcUrls: [proxy.url, b.rpcUrl] }, { retry: fast })
  t.teardown(() => { rpc.destroy() })
  proxy.refuse()
  const err = await t.throwsAsync(rpc.send('eth_blockNumber', []))
  t.is(err?.name, 'WrongChainError')
  t.regex(err!.message, /serves chain 31338, the network file expects 31337/)
  t.is(rpc.failovers, 0)
  t.is(rpc.rpcUrl, proxy.url, 'still not switched to the other chain\'s endpoint')
})

test('an endpoint of another chain between two of ours is passed over, and never asked again', async t => {
  const proxy = await RpcProxy.start(a.rpcUrl)
  const other = await RpcProxy.start(b.rpcUrl)
  t.teardown(async () => { await proxy.stop(); await other.stop() })
  const rpc = await openRpc({ chainId: 31337, rpcUrl: proxy.url, rpcUrls: [proxy.url, other.url, a.rpcUrl] }, { retry: fast })
  t.teardown(() => { rpc.destroy() })
  proxy.refuse()
  t.is(Number(await rpc.send('eth_chainId', [])), 31337)
  t.is(rpc.rpcUrl, a.rpcUrl)
  t.is(rpc.failovers, 1)
  t.is(other.counts.requests, 1, 'asked its chain id once')
  // a chain whose only other endpoint serves another chain: with its own down, each request fails with the named
  // error of the misconfiguration, and the other chain's endpoint is asked once, never used
  const last = await RpcProxy.start(a.rpcUrl)
  t.teardown(async () => { await last.stop() })
  const rpc2 = await openRpc({ chainId: 31337, rpcUrl: last.url, rpcUrls: [last.url, other.url] }, { retry: fast })
  t.teardown(() => { rpc2.destroy() })
  last.refuse()
  await t.throwsAsync(rpc2.send('eth_blockNumber', []), { name: 'WrongChainError' })
  await t.throwsAsync(rpc2.send('eth_blockNumber', []), { name: 'WrongChainError' })
  t.is(other.counts.requests, 2, 'each provider asked the other chain\'s endpoint once, then never again')
  t.is(rpc2.rpcUrl, last.url)
})

test('every endpoint down: RpcUnreachableError, not a socket error', async t => {
  const [d1, d2] = [await deadUrl(), await deadUrl()]
  const err = await t.throwsAsync(openRpc({ chainId: 31337, rpcUrl: d1, rpcUrls: [d1, d2] }, { retry: fast }))
  t.is(err?.name, 'RpcUnreachableError')
})
