// GPU model matching, the same on every node: a required model matches an offered one when its name tokens
// appear, in order and adjacent, among the offered name's tokens, ignoring case, the vendor and punctuation.
// "H100" matches "NVIDIA H100 80GB HBM3" and "NVIDIA H100 NVL"; "A100" matches "NVIDIA A100-SXM4-80GB";
// "RTX 4090" matches "NVIDIA GeForce RTX 4090"; "A10" does not match "NVIDIA A100-PCIE-40GB".

const VENDOR_WORDS = new Set(['nvidia', 'amd', 'intel'])

/** Lower-case name tokens without vendor words: "NVIDIA A100-SXM4-80GB" → ["a100", "sxm4", "80gb"]. */
export function gpuModelTokens (name: string): string[] {
  return name.toLowerCase().split(/[^a-z0-9]+/).filter(t => t !== '' && !VENDOR_WORDS.has(t))
}

/** Whether the required tokens appear, in order and adjacent, among the offered ones. */
export function gpuTokensMatch (want: readonly string[], have: readonly string[]): boolean {
  if (want.length === 0) return true
  for (let i = 0; i + want.length <= have.length; i++) {
    let ok = true
    for (let j = 0; j < want.length && ok; j++) ok = have[i + j] === want[j]
    if (ok) return true
  }
  return false
}

export function gpuModelMatches (required: string, offered: string): boolean {
  return gpuTokensMatch(gpuModelTokens(required), gpuModelTokens(offered))
}
