import test from 'ava'
import { clusterSlots, largestNode, nodeSlots, type ClusterNode } from './cluster-slots.ts'

const node = (id: string, cpu: number, ramMb: number, gpus = 0, over: Partial<ClusterNode> = {}): ClusterNode =>
  ({ id, hostname: id, ready: true, active: true, cpu, ramMb, gpus, reserved: { cpu: 0, ramMb: 0, gpus: 0 }, ...over })

test('a node holds as many slots as its scarcest resource allows, after what others reserve there', t => {
  const shape = { cpu: 1000, ramMb: 1024, gpus: 0 }
  t.is(nodeSlots(node('a', 4000, 8192), shape), 4)
  t.is(nodeSlots(node('a', 4000, 2500), shape), 2, 'memory is scarcer')
  t.is(nodeSlots(node('a', 4000, 8192, 0, { reserved: { cpu: 2500, ramMb: 0, gpus: 0 } }), shape), 1)
  t.is(nodeSlots(node('a', 4000, 8192, 0, { reserved: { cpu: 9000, ramMb: 0, gpus: 0 } }), shape), 0, 'over-reserved is none, not negative')
  t.is(nodeSlots(node('g', 16000, 65536, 2), { cpu: 1000, ramMb: 1024, gpus: 1 }), 2, 'GPUs bound it')
  t.is(nodeSlots(node('c', 16000, 65536, 0), { cpu: 1000, ramMb: 1024, gpus: 1 }), 0, 'a GPU slot does not fit a node without GPUs')
})

test('drained, paused or down nodes hold nothing; slots never span nodes', t => {
  const shape = { cpu: 3000, ramMb: 1024, gpus: 0 }
  const nodes = [node('a', 4000, 8192), node('b', 4000, 8192), node('c', 8000, 8192, 0, { active: false }), node('d', 8000, 8192, 0, { ready: false })]
  // 2 × 4000 millicores is 8000, but each node holds one 3000 slot: 2, not 2.66
  t.is(clusterSlots(nodes, shape), 2)
  t.is(clusterSlots([], shape), 0)
  t.is(nodeSlots(node('z', 4000, 8192), { cpu: 0, ramMb: 0, gpus: 0 }), 0, 'a shape of nothing is not a slot')
})

test('the largest ready, active node sizes a slot', t => {
  t.is(largestNode([node('a', 4000, 8192), node('b', 8000, 4096), node('c', 16000, 1, 0, { active: false })])?.id, 'b')
  t.is(largestNode([node('c', 16000, 1, 0, { ready: false })]), undefined)
})

test('this provider\'s jobs that hold a slot are not counted twice; others under the same owner (a mediator\'s re-runs) are', t => {
  const shape = { cpu: 1000, ramMb: 1024, gpus: 0 }
  const n = node('a', 4000, 8192, 0, { own: [{ jobId: 'deal-1', cpu: 1000, ramMb: 1024, gpus: 0 }, { jobId: 'dispute-2', cpu: 1000, ramMb: 1024, gpus: 0 }] })
  t.is(nodeSlots(n, shape), 4, 'every own job booked: the node counts whole')
  t.is(nodeSlots(n, shape, id => id === 'deal-1'), 3, 'the mediator\'s re-run takes a share')
  t.is(clusterSlots([n], shape, () => false), 2)
})
