import test from 'ava'
import { parseNetworkFile, applyEnvOverrides } from './load.ts'
import { chainsOf, chainView, findChain, networkFileJson, withChain, rpcUrlsOf, UnknownChainError } from './chains.ts'
import type { NetworkChain } from './network.ts'

const A = '0x' + '11'.repeat(20)
const B = '0x' + '22'.repeat(20)
const C = '0x' + '33'.repeat(20)
const M = '0x' + '44'.repeat(20)
const one = {
  networkId: 'devnet',
  chainId: 1337,
  rpcUrl: 'http://127.0.0.1:8545',
  deployBlock: 1,
  contracts: { token: A, market: B, directory: A, jobManager: B },
  bootstrap: [],
  mediators: [M],
  dealTerms: { judgeWindow: 30 }
}
const chainA = { name: 'alpha', chainId: 1337, rpcUrls: ['http://127.0.0.1:8545', 'http://127.0.0.1:8546'], contracts: { token: A, market: B, directory: A, jobManager: B }, deployBlock: 1, confirmations: 2, mediators: [M] }
const chainB = { name: 'beta', chainId: 31338, rpcUrl: 'http://127.0.0.1:9545', contracts: { token: C, market: C, directory: C, jobManager: C }, deployBlock: 5 }
const two = { networkId: 'duo', chains: [chainA, chainB], bootstrap: [], dealTerms: { judgeWindow: 30 } }

test('a one-chain file loads as before and is a one-entry chain list', t => {
  const net = parseNetworkFile(JSON.stringify(one), 'one.json')
  t.is(net.chainId, 1337)
  t.is(net.rpcUrl, 'http://127.0.0.1:8545')
  t.is(net.chains, undefined, 'held exactly as before')
  t.is(net.rpcUrls, undefined)
  const chains = chainsOf(net)
  t.is(chains.length, 1)
  t.like(chains[0], { chainId: 1337, rpcUrl: 'http://127.0.0.1:8545', rpcUrls: ['http://127.0.0.1:8545'], deployBlock: 1, mediators: [M] })
  // and it is written back in the form it was read
  t.deepEqual(parseNetworkFile(JSON.stringify(networkFileJson(net)), 'again.json'), net)
  t.false('chains' in networkFileJson(net))
})

test('a chains list: the first chain is the top-level one, each chain keeps its own contracts, RPCs and mediators', t => {
  const net = parseNetworkFile(JSON.stringify(two), 'two.json')
  t.is(net.chainId, 1337)
  t.is(net.chainName, 'alpha')
  t.deepEqual(net.rpcUrls, chainA.rpcUrls)
  t.is(net.rpcUrl, chainA.rpcUrls[0])
  t.is(net.confirmations, 2)
  const chains = chainsOf(net)
  t.deepEqual(chains.map(c => c.chainId), [1337, 31338])
  t.deepEqual(chains[1].rpcUrls, ['http://127.0.0.1:9545'])
  const b = chainView(net, 31338)
  t.is(b.chainId, 31338)
  t.is(b.chainName, 'beta')
  t.is(b.contracts.market.toLowerCase(), C)
  t.is(b.deployBlock, 5)
  t.is(b.mediators, undefined, 'mediators are per chain: beta names none')
  t.is(b.confirmations, undefined)
  t.deepEqual(b.dealTerms, { judgeWindow: 30 }, 'deal terms are the network\'s')
  t.deepEqual(chainsOf(b).map(c => c.chainId), [31338, 1337], 'the viewed chain first, the others kept')
  // written back as a chains list and read again the same
  const json = networkFileJson(net)
  t.false('chainId' in json)
  t.deepEqual(parseNetworkFile(JSON.stringify(json), 'again.json'), net)
})

test('--chain takes an id or a name; an unknown one is an UnknownChainError listing the chains', t => {
  const net = parseNetworkFile(JSON.stringify(two), 'two.json')
  t.is(findChain(net).chainId, 1337, 'default: the first')
  t.is(findChain(net, 'beta').chainId, 31338)
  t.is(findChain(net, '31338').name, 'beta')
  const err = t.throws(() => findChain(net, 'gamma'))
  t.is(err?.name, UnknownChainError.name)
  t.regex(err!.message, /alpha \(1337\), beta \(31338\)/)
  t.is(t.throws(() => chainView(net, 1))?.name, 'UnknownChainError')
})

test('each malformed chains list is a NetworkFileError naming the entry and the field', t => {
  const cases: Array<[unknown, RegExp]> = [
    [{ ...two, chainId: 1 }, /"chainId" belong in its entries/],
    [{ ...two, chains: [] }, /non-empty list/],
    [{ ...two, chains: {} }, /non-empty list/],
    [{ ...two, chains: [chainA, { ...chainB, chainId: 1337 }] }, /chains\[1\]: chain id 1337 is listed twice/],
    [{ ...two, chains: [chainA, { ...chainB, name: 'alpha' }] }, /chains\[1\]: the name "alpha"/],
    [{ ...two, chains: [chainA, { ...chainB, name: 'Beta Chain' }] }, /chains\[1\]: chain name/],
    [{ ...two, chains: [chainA, { ...chainB, contracts: { ...chainB.contracts, market: '0x12' } }] }, /chains\[1\] contracts: "market"/],
    [{ ...two, chains: [{ ...chainA, rpcUrls: [] }] }, /chains\[0\]: "rpcUrls" must be a non-empty list/],
    [{ ...two, chains: [{ ...chainA, rpcUrls: ['http://a:1', 'http://a:1'] }] }, /lists a URL twice/],
    [{ ...two, chains: [{ ...chainA, rpcUrls: ['ftp://a:1'] }] }, /http\(s\) or ws\(s\)/],
    [{ ...two, chains: [{ ...chainA, rpcUrl: 'http://other:1' }] }, /"rpcUrl" must be the first of "rpcUrls"/],
    [{ ...two, chains: [{ ...chainB, rpcUrl: undefined }] }, /chains\[0\]: "rpcUrl" must be a URL/],
    [{ ...two, chains: [{ ...chainB, confirmations: -1 }] }, /"confirmations"/],
    [{ ...two, chains: [{ ...chainB, bootstrap: [] }] }, /chains\[0\]: unknown setting "bootstrap"/],
    [{ ...two, chains: [chainA, 7] }, /chains\[1\]: must be an object/],
    [{ ...two, chainName: 'x' }, /"chainName"/]
  ]
  for (const [value, re] of cases) {
    const err = t.throws(() => parseNetworkFile(JSON.stringify(value), 'net.json'), undefined, re.source)
    t.is(err?.name, 'NetworkFileError')
    t.regex(err!.message, re)
  }
})

test('a one-chain file may list several RPC URLs (failover order) and name its chain', t => {
  const net = parseNetworkFile(JSON.stringify({ ...one, rpcUrl: undefined, rpcUrls: ['http://a:1', 'https://b:2'], chainName: 'local' }), 'net.json')
  t.is(net.rpcUrl, 'http://a:1')
  t.deepEqual(rpcUrlsOf(net), ['http://a:1', 'https://b:2'])
  t.is(findChain(net, 'local').chainId, 1337)
  t.deepEqual(parseNetworkFile(JSON.stringify(networkFileJson(net)), 'again.json'), net)
  // a copy with another rpcUrl meant that URL (a test's proxy, a devnet's port): the list is not used then
  t.deepEqual(rpcUrlsOf({ ...net, rpcUrl: 'http://proxy:3' }), ['http://proxy:3'])
  // WEB3_RPC_URL replaces the first chain's endpoints
  const env = applyEnvOverrides(net, { WEB3_RPC_URL: 'http://override:9' })
  t.deepEqual(rpcUrlsOf(env), ['http://override:9'])
})

test('a chain is added to a network (network init / deploy), or replaced when its id is there', t => {
  const net = parseNetworkFile(JSON.stringify(one), 'one.json')
  const beta: NetworkChain = { name: 'beta', chainId: 31338, rpcUrl: 'http://127.0.0.1:9545', rpcUrls: ['http://127.0.0.1:9545'], contracts: { token: C, market: C, directory: C, jobManager: C }, deployBlock: 5 }
  const more = withChain(net, beta)
  t.deepEqual(chainsOf(more).map(c => c.chainId), [1337, 31338])
  t.is(more.chainId, 1337, 'the first chain stays first')
  const reread = parseNetworkFile(JSON.stringify(networkFileJson(more)), 'more.json')
  t.deepEqual(chainsOf(reread).map(c => c.name ?? c.chainId), [1337, 'beta'])
  t.is(chainView(reread, 31338).deployBlock, 5)
  const moved = withChain(more, { ...beta, deployBlock: 9 })
  t.is(chainView(moved, 31338).deployBlock, 9)
  t.is(chainsOf(moved).length, 2)
  const first = withChain(more, { ...chainsOf(more)[0], deployBlock: 3 })
  t.is(first.deployBlock, 3)
  t.is(chainsOf(first).length, 2)
})
