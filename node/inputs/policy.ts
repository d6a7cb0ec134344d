// What a provider lets a stranger's job make it fetch. Every resource is bounded: the number of inputs, bytes
// (each input and all together, never more than the job's disk share), time (never past the job's deadline),
// redirects, DAG blocks and entries, and how many fetches run at once on the whole provider.

export interface InputPolicy {
  /** Inputs one job may name. */
  maxInputs: number
  /** Bytes one input may have (a URL's body; an IPFS file or directory, all files together). */
  maxInputBytes: number
  /** Bytes all inputs of a job may have together; the job's disk share (Resources.Disk) caps it further. */
  maxTotalBytes: number
  /** How long fetching a job's inputs may take, all together; the job's deadline cuts it shorter. */
  fetchTimeoutMs: number
  /** An HTTP server that sends nothing for this long is given up on. */
  idleTimeoutMs: number
  /** Redirects followed for one URL. */
  maxRedirects: number
  /** Fetches (one input each) running at once on the whole provider. */
  maxConcurrentFetches: number
  /** Blocks one IPFS input may consist of (a DAG of many tiny blocks costs time and disk without bytes). */
  maxBlocks: number
  /** Files and directories one IPFS input may contain. */
  maxEntries: number
  /** How deep an IPFS directory input may nest. */
  maxDepth: number
  /**
   * Address ranges (CIDR, e.g. "10.0.0.0/8", "127.0.0.1/32") fetched from although they are loopback, private,
   * link-local or otherwise special. Empty by default: a job must not make a provider fetch from its own
   * machine, its LAN or a cloud metadata service.
   */
  allowAddresses: string[]
  /** Free space left on the disk beside what inputs take. */
  keepFreeBytes: number
  /**
   * Certificate authorities (PEM) trusted for https inputs besides the system's (a provider's internal mirror).
   * Certificates are always verified: a server no trusted authority vouches for is unreachable.
   */
  trustedCa: string[]
}

export const DEFAULT_INPUT_POLICY: Readonly<InputPolicy> = Object.freeze({
  maxInputs: 16,
  maxInputBytes: 1024 ** 3,
  maxTotalBytes: 4 * 1024 ** 3,
  fetchTimeoutMs: 10 * 60_000,
  idleTimeoutMs: 30_000,
  maxRedirects: 5,
  maxConcurrentFetches: 4,
  maxBlocks: 100_000,
  maxEntries: 10_000,
  maxDepth: 32,
  allowAddresses: [],
  keepFreeBytes: 256 * 1024 ** 2,
  trustedCa: []
})

export function inputPolicy (overrides: Partial<InputPolicy> = {}): InputPolicy {
  const p = { ...DEFAULT_INPUT_POLICY, ...overrides, allowAddresses: [...(overrides.allowAddresses ?? DEFAULT_INPUT_POLICY.allowAddresses)], trustedCa: [...(overrides.trustedCa ?? DEFAULT_INPUT_POLICY.trustedCa)] }
  for (const k of ['maxInputs', 'maxInputBytes', 'maxTotalBytes', 'fetchTimeoutMs', 'idleTimeoutMs', 'maxConcurrentFetches', 'maxBlocks', 'maxEntries', 'maxDepth'] as const) {
    if (!Number.isSafeInteger(p[k]) || p[k] < 1) throw new RangeError(`input policy ${k} must be a positive whole number, got ${String(p[k])}`)
  }
  for (const k of ['maxRedirects', 'keepFreeBytes'] as const) {
    if (!Number.isSafeInteger(p[k]) || p[k] < 0) throw new RangeError(`input policy ${k} must be a whole number, got ${String(p[k])}`)
  }
  for (const ca of p.trustedCa) {
    if (typeof ca !== 'string' || !ca.includes('-----BEGIN CERTIFICATE-----')) throw new RangeError('input policy trustedCa must hold PEM certificates')
  }
  return p
}
