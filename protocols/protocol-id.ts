// One builder for every stream protocol id and gossip topic, so two networks never cross-talk.
export class InvalidProtocolNameError extends Error {
  static override name = 'InvalidProtocolNameError'
  override name = InvalidProtocolNameError.name
}

const SEGMENT = /^[a-z0-9][a-z0-9._-]*$/i

function segment (what: string, s: string): string {
  if (!SEGMENT.test(s)) throw new InvalidProtocolNameError(`${what} ${JSON.stringify(s)} is not a valid protocol id segment`)
  return s
}

/** `/lilypad/<network>/<name>/<version>` */
export function protocolId (network: string, name: string, version: string): string {
  return `/lilypad/${segment('network', network)}/${segment('name', name)}/${segment('version', version)}`
}

export const protocols = {
  kad: (network: string) => protocolId(network, 'kad', '1.0.0'),
  deal: (network: string) => protocolId(network, 'deal', '1.0.0'),
  candidates: (network: string) => protocolId(network, 'candidates', '1.0.0'),
  dispute: (network: string) => protocolId(network, 'dispute', '1.0.0'),
  result: (network: string) => protocolId(network, 'result', '1.0.0'),
  // the job creator's off-chain acceptance of a result, job creator → the deal's provider
  acceptance: (network: string) => protocolId(network, 'acceptance', '1.0.0'),
  // live container output of a deal, provider → its job creator (advisory; the result is the CID-verified one)
  logs: (network: string) => protocolId(network, 'logs', '1.0.0'),
  // 2.0.0: paged, filtered answers with signed peer records (1.0.0 answered the first 256 offers in insertion order);
  // 3.0.0: a booked slot's offer travels with the withdrawal that marks it busy (2.0.0 refused 3-element entries)
  offers: (network: string) => protocolId(network, 'offers', '3.0.0'),
  resourceOffers: (network: string) => protocolId(network, 'resource-offers', '1'),
  jobOffers: (network: string) => protocolId(network, 'job-offers', '1'),
  role: (network: string, role: string) => protocolId(network, 'role', segment('role', role))
}
