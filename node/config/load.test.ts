import test from 'ava'
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadNetwork, parseNetworkFile, parsePrivateKey, applyEnvOverrides } from './load.ts'
import { meshOptions } from '../host/from-network.ts'

const A = '0x' + '11'.repeat(20)
const B = '0x' + '22'.repeat(20)
const good = {
  networkId: 'devnet', chainId: 1337, rpcUrl: 'http://127.0.0.1:8545', deployBlock: 1,
  contracts: { token: A, market: B, directory: A, jobManager: B },
  bootstrap: ['/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWLx2RmNrXqBNRPYbRFMgU1RvW9jCvCchcdLHY37BZCkdE'], swarmKeyPath: 'swarm.key'
}

test('a network is found by name under LILYPAD_HOME, with the swarm key resolved beside it', async t => {
  const home = await mkdtemp(join(tmpdir(), 'lilypad-home-'))
  t.teardown(async () => { await rm(home, { recursive: true, force: true }) })
  await mkdir(join(home, 'networks'))
  await writeFile(join(home, 'networks', 'devnet.json'), JSON.stringify(good))
  const loaded = await loadNetwork('devnet', { LILYPAD_HOME: home })
  t.is(loaded.network.chainId, 1337)
  t.is(loaded.swarmKeyFile, join(home, 'networks', 'swarm.key'))
  const err = await t.throwsAsync(loadNetwork('testnet', { LILYPAD_HOME: home }))
  t.is(err?.name, 'NetworkNotFoundError')
})

test('each malformed field is a NetworkFileError naming the field', t => {
  const cases: Array<[unknown, RegExp]> = [
    [{ ...good, chainId: '1337' }, /"chainId"/],
    [{ ...good, networkId: 'Dev Net' }, /"networkId"/],
    [{ ...good, contracts: { ...good.contracts, market: '0x123' } }, /"market"/],
    [{ ...good, rpcUrl: 'not a url' }, /"rpcUrl"/],
    [{ ...good, bootstrap: [1] }, /"bootstrap"/]
  ]
  for (const [value, re] of cases) {
    const err = t.throws(() => parseNetworkFile(JSON.stringify(value), 'net.json'))
    t.is(err?.name, 'NetworkFileError')
    t.regex(err!.message, re)
  }
  t.is(t.throws(() => parseNetworkFile('{', 'net.json'))?.name, 'NetworkFileError')
})

test('an explorer URL is an http(s) base the console links transactions to; javascript:, data:, credentials or a query are refused', t => {
  t.is(parseNetworkFile(JSON.stringify({ ...good, explorerUrl: 'https://sepolia.arbiscan.io/' }), 'net.json').explorerUrl, 'https://sepolia.arbiscan.io')
  t.is(parseNetworkFile(JSON.stringify({ ...good, explorerUrl: 'http://127.0.0.1:4000/explorer' }), 'net.json').explorerUrl, 'http://127.0.0.1:4000/explorer')
  t.is(parseNetworkFile(JSON.stringify(good), 'net.json').explorerUrl, undefined)
  for (const bad of ['javascript:alert(document.cookie)//', 'data:text/html,<script>alert(1)</script>', 'https://user:pw@explorer.example', 'https://explorer.example/?next=evil', 'https://explorer.example/#x', 'explorer.example', 42]) {
    const err = t.throws(() => parseNetworkFile(JSON.stringify({ ...good, explorerUrl: bad }), 'net.json'))
    t.is(err?.name, 'NetworkFileError', String(bad))
    t.regex(err!.message, /"explorerUrl"/)
  }
})

test('the mesh section sets connection and relay limits; a bad or unknown one is a NetworkFileError', t => {
  const mesh = { maxConnectionsPerIp: 8, inboundConnectionsPerSecond: 3, relay: { maxReservations: 64, maxReservationsPerIp: 2, maxDataBytes: 1048576 } }
  const net = parseNetworkFile(JSON.stringify({ ...good, mesh }), 'net.json')
  t.deepEqual(meshOptions(net.mesh), {
    limits: { maxConnectionsPerIp: 8, inboundConnectionThreshold: 3 },
    relayLimits: { maxReservations: 64, maxReservationsPerIp: 2, maxDataBytes: 1048576n }
  })
  const cases: Array<[unknown, RegExp]> = [
    [{ maxConnectionsPerIp: 0 }, /"maxConnectionsPerIp"/],
    [{ maxConections: 8 }, /unknown setting "maxConections"/],
    [{ relay: { maxReservationsPerIp: 1.5 } }, /"maxReservationsPerIp"/],
    [{ relay: { maxReservationPerIp: 2 } }, /unknown setting "maxReservationPerIp"/],
    [{ relay: [] }, /"relay"/]
  ]
  for (const [value, re] of cases) {
    const err = t.throws(() => parseNetworkFile(JSON.stringify({ ...good, mesh: value }), 'net.json'))
    t.is(err?.name, 'NetworkFileError')
    t.regex(err!.message, re)
  }
})

test('environment overrides as in Lilypad v2, with named errors', t => {
  const net = parseNetworkFile(JSON.stringify(good), 'net.json')
  const out = applyEnvOverrides(net, { WEB3_RPC_URL: 'http://10.0.0.1:8545', WEB3_CHAIN_ID: '7', SERVICE_MEDIATORS: `${A}, ${B}` })
  t.is(out.rpcUrl, 'http://10.0.0.1:8545')
  t.is(out.chainId, 7)
  t.is(out.mediators?.length, 2)
  t.is(t.throws(() => applyEnvOverrides(net, { SERVICE_MEDIATORS: 'bob' }))?.name, 'InvalidSettingError')
  t.is(t.throws(() => applyEnvOverrides(net, { WEB3_CHAIN_ID: '-1' }))?.name, 'InvalidSettingError')
})

test('a bad private key is refused without echoing it', t => {
  const secret = 'zz' + 'ab'.repeat(31)
  const err = t.throws(() => parsePrivateKey(secret))
  t.is(err?.name, 'InvalidPrivateKeyError')
  t.false(err!.message.includes(secret))
  t.is(t.throws(() => parsePrivateKey(undefined))?.name, 'InvalidPrivateKeyError')
  // anvil's first well-known development key
  t.is(parsePrivateKey('0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80').address, '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266')
})

test('the contract-job fields of a network file: approved bridges, the Market\'s bounds, the JobManager\'s config', t => {
  const marketBounds = { minResultTimeout: 60, maxResultTimeout: 600, minJudgeWindow: 60, maxJudgeWindow: 600, minMediateTimeout: 60, maxMediateTimeout: 600, maxDealTtl: 3600, minMediationFee: '0' }
  const jobManagerConfig = { minTimeout: 60, maxTimeout: 600, minCallbackGas: 10000, maxCallbackGas: 2000000, disputeWindow: 600, mediationWindow: 600, jobBond: '5000000000000000000', disputeFee: '1000000000000000000' }
  const net = parseNetworkFile(JSON.stringify({ ...good, bridges: [A.toLowerCase()], marketBounds, jobManagerConfig }), 'net.json')
  t.deepEqual(net.bridges, ['0x1111111111111111111111111111111111111111'])
  t.deepEqual(net.marketBounds, marketBounds)
  t.deepEqual(net.jobManagerConfig, jobManagerConfig)
  const cases: Array<[unknown, RegExp]> = [
    [{ ...good, bridges: ['nobody'] }, /"bridges"/],
    [{ ...good, marketBounds: { ...marketBounds, maxDealTtl: -1 } }, /marketBounds: "maxDealTtl"/],
    [{ ...good, marketBounds: { ...marketBounds, minMediationFee: 1 } }, /"minMediationFee" must be a decimal string/],
    [{ ...good, jobManagerConfig: { ...jobManagerConfig, jobBond: '5 LP' } }, /jobManagerConfig: "jobBond"/],
    [{ ...good, jobManagerConfig: 'yes' }, /"jobManagerConfig" must be an object/]
  ]
  for (const [value, re] of cases) {
    const err = t.throws(() => parseNetworkFile(JSON.stringify(value), 'net.json'))
    t.is(err?.name, 'NetworkFileError')
    t.regex(err!.message, re)
  }
})
