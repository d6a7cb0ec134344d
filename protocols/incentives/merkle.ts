// The epoch's Merkle tree: one leaf (epoch, account, amount) per rewarded provider. A leaf is keccak256 of keccak256
// of the ABI encoding (double hashing keeps a leaf from passing as an inner node); leaves are sorted by hash and each
// inner node hashes its two children in ascending order, which is what Rewards.sol checks with OpenZeppelin's
// MerkleProof (sorted-pair hashing). The epoch inside every leaf keeps a proof from being replayed against another
// epoch's root. Built here on ethers' keccak256 and ABI coder, no tree library.
import { AbiCoder, getAddress, keccak256, concat } from 'ethers'
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
  /** levels[0]: leaf hashes sorted ascending; the last level holds the root */
  readonly #levels: string[][]
  /** account (lower case) → its amount and leaf position in levels[0] */
  readonly #index = new Map<string, { amount: bigint, at: number }>()

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
    const hashed = this.leaves.map(l => ({ l, h: leafHash(epoch, l.account, l.amount) })).sort((a, b) => compareHash(a.h, b.h))
    this.#levels = [hashed.map(x => x.h)]
    hashed.forEach((x, i) => this.#index.set(x.l.account.toLowerCase(), { amount: x.l.amount, at: i }))
    for (let level = this.#levels[0]; level.length > 1;) {
      const next: string[] = []
      for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? hashPair(level[i], level[i + 1]) : level[i])
      this.#levels.push(next)
      level = next
    }
    this.root = this.#levels[this.#levels.length - 1][0]
    this.total = this.leaves.reduce((s, l) => s + l.amount, 0n)
  }

  static fromRewards (r: EpochRewards): RewardsTree {
    return new RewardsTree(r.epoch, r.providers.map(p => ({ account: p.provider, amount: p.amount })))
  }

  amountOf (account: string): bigint | undefined {
    return this.#index.get(account.toLowerCase())?.amount
  }

  proof (account: string): string[] {
    const e = this.#index.get(account.toLowerCase())
    if (e === undefined) throw new NotInTreeError(`${account} has no reward in epoch ${this.epoch}`)
    const out: string[] = []
    let at = e.at
    for (const level of this.#levels.slice(0, -1)) {
      const sibling = at ^ 1
      // an odd node out is carried up unpaired: no sibling at this level
      if (sibling < level.length) out.push(level[sibling])
      at >>= 1
    }
    return out
  }

  /** Checks a proof off chain exactly as the contract does. */
  static verify (root: string, epoch: number, account: string, amount: bigint, proof: string[]): boolean {
    let h = leafHash(epoch, account, amount)
    for (const p of proof) h = hashPair(h, p)
    return h === root.toLowerCase()
  }
}

const coder = AbiCoder.defaultAbiCoder()

/** Rewards.sol's leafHash: keccak256(keccak256(abi.encode(epoch, account, amount))). */
export function leafHash (epoch: number, account: string, amount: bigint): string {
  return keccak256(keccak256(coder.encode([...LEAF_ENCODING], [BigInt(epoch), getAddress(account), amount])))
}

function compareHash (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** OpenZeppelin's sorted-pair hash: keccak256 of the two 32-byte values, smaller first. */
function hashPair (a: string, b: string): string {
  return keccak256(compareHash(a, b) <= 0 ? concat([a, b]) : concat([b, a]))
}
