// The epoch's Merkle tree: one leaf (epoch, account, amount) per rewarded provider, hashed as
// @openzeppelin/merkle-tree's StandardMerkleTree does (keccak256 of keccak256 of the ABI encoding; leaves sorted),
// which is what Rewards.sol checks with OpenZeppelin's MerkleProof. The epoch inside every leaf keeps a proof from
// being replayed against another epoch's root.
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { getAddress } from 'ethers'
import type { EpochRewards } from './rewards.ts'

export const LEAF_ENCODING = ['uint256', 'address', 'uint256'] as const

export interface RewardLeaf { account: string, amount: bigint }

export class NoRewardsError extends Error {
  static override name = 'NoRewardsError'
  override name = NoRewardsError.name
}

export class NotInTreeError extends Error {
  static override name = 'NotInTreeError'
  override name = NotInTreeError.name
}

export class RewardsTree {
  readonly epoch: number
  readonly root: string
  readonly total: bigint
  readonly leaves: readonly RewardLeaf[]
  readonly #tree: StandardMerkleTree<[bigint, string, bigint]>
  readonly #index = new Map<string, number>()

  constructor (epoch: number, leaves: readonly RewardLeaf[]) {
    const positive = leaves.filter(l => l.amount > 0n)
    if (positive.length === 0) throw new NoRewardsError(`epoch ${epoch} rewards nobody: there is no root to publish or claim`)
    const seen = new Set<string>()
    for (const l of positive) {
      const a = l.account.toLowerCase()
      if (seen.has(a)) throw new RangeError(`account ${l.account} appears twice in epoch ${epoch}'s leaves`)
      seen.add(a)
    }
    this.epoch = epoch
    this.leaves = positive.map(l => ({ account: getAddress(l.account), amount: l.amount }))
    this.#tree = StandardMerkleTree.of(this.leaves.map(l => [BigInt(epoch), l.account, l.amount] as [bigint, string, bigint]), [...LEAF_ENCODING])
    for (const [i, v] of this.#tree.entries()) this.#index.set(v[1].toLowerCase(), i)
    this.root = this.#tree.root
    this.total = this.leaves.reduce((s, l) => s + l.amount, 0n)
  }

  static fromRewards (r: EpochRewards): RewardsTree {
    return new RewardsTree(r.epoch, r.providers.map(p => ({ account: p.provider, amount: p.amount })))
  }

  amountOf (account: string): bigint | undefined {
    const i = this.#index.get(account.toLowerCase())
    return i === undefined ? undefined : this.#tree.at(i)?.[2]
  }

  proof (account: string): string[] {
    const i = this.#index.get(account.toLowerCase())
    if (i === undefined) throw new NotInTreeError(`${account} has no reward in epoch ${this.epoch}`)
    return this.#tree.getProof(i)
  }

  /** Checks a proof off chain exactly as the contract does. */
  static verify (root: string, epoch: number, account: string, amount: bigint, proof: string[]): boolean {
    return StandardMerkleTree.verify(root, [...LEAF_ENCODING], [BigInt(epoch), getAddress(account), amount], proof)
  }
}
