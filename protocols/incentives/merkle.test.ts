import test from 'ava'
import { RewardsTree, NoRewardsError, NotInTreeError } from './merkle.ts'

const LP = 10n ** 18n
const addr = (n: number): string => '0x' + n.toString(16).padStart(40, '0')

test('every leaf proves its own amount in its own epoch, and nothing else', t => {
  const leaves = Array.from({ length: 7 }, (_, i) => ({ account: addr(i + 1), amount: BigInt(i + 1) * LP }))
  const tree = new RewardsTree(3, [...leaves, { account: addr(99), amount: 0n }])
  t.is(tree.total, 28n * LP)
  t.is(tree.leaves.length, 7, 'zero amounts get no leaf')
  for (const l of leaves) {
    const proof = tree.proof(l.account)
    t.true(RewardsTree.verify(tree.root, 3, l.account, l.amount, proof))
    t.false(RewardsTree.verify(tree.root, 3, l.account, l.amount + 1n, proof), 'another amount')
    t.false(RewardsTree.verify(tree.root, 4, l.account, l.amount, proof), 'another epoch')
    t.false(RewardsTree.verify(tree.root, 3, addr(50), l.amount, proof), 'another account')
    t.is(tree.amountOf(l.account.toUpperCase().replace('0X', '0x')), l.amount)
  }
  t.is(new RewardsTree(3, [...leaves].reverse()).root, tree.root, 'the leaves\' order does not matter')
  t.not(new RewardsTree(4, leaves).root, tree.root)
  t.throws(() => tree.proof(addr(99)), { instanceOf: NotInTreeError })
})

test('a tree with one leaf, none, or an account twice', t => {
  const one = new RewardsTree(1, [{ account: addr(1), amount: 5n }])
  t.deepEqual(one.proof(addr(1)), [])
  t.true(RewardsTree.verify(one.root, 1, addr(1), 5n, []))
  t.throws(() => new RewardsTree(1, []), { instanceOf: NoRewardsError })
  t.throws(() => new RewardsTree(1, [{ account: addr(1), amount: 0n }]), { instanceOf: NoRewardsError })
  t.throws(() => new RewardsTree(1, [{ account: addr(1), amount: 1n }, { account: addr(1).toUpperCase().replace('0X', '0x'), amount: 2n }]), { instanceOf: RangeError })
})
