// Anvil's well-known development keys: derived from DEV_MNEMONIC at m/44'/60'/0'/0/i, public since anvil and
// hardhat print them, and only ever funding local devnets. The first ten are written out so a command that
// needs the devnet user's address does not load ethers and derive them (about 0.2 s of `lilypad run`'s
// start-up); node/chain/anvil.ts derives any index, and its test checks this table against the derivation.
export const DEV_MNEMONIC = 'test test test test test test test test test test test junk'

export const WELL_KNOWN_DEV_KEYS: readonly string[] = [
  '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
  '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6',
  '0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a',
  '0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba',
  '0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e',
  '0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356',
  '0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97',
  '0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6'
]

/** The well-known dev key at index i (0-9); a RangeError past the table (use devKey from node/chain for those). */
export function wellKnownDevKey (i: number): string {
  const k = WELL_KNOWN_DEV_KEYS[i]
  if (k === undefined) throw new RangeError(`no well-known dev key at index ${i} (0-${WELL_KNOWN_DEV_KEYS.length - 1})`)
  return k
}
