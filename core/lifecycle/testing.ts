// Plain deals and job offers for the lifecycle tests (no signatures: the step functions never verify any).
import type { Deal, JobOffer } from '../../protocols/eip712.ts'
import type { Envelope } from '../../protocols/codec.ts'

export const T0 = 1_800_000_000_000 // ms; chain seconds are T0 / 1000 + …
export const sec = (ms: number): number => Math.floor(ms / 1000)

export function sampleDeal (over: Partial<Deal> = {}): Deal {
  return {
    jobOfferId: '0x' + '11'.repeat(32),
    resourceOfferId: '0x' + '22'.repeat(32),
    jobCreator: '0x' + 'aa'.repeat(20),
    resourceProvider: '0x' + 'bb'.repeat(20),
    mediators: ['0x' + 'cc'.repeat(20)],
    price: 10n ** 18n,
    collateral: 2n * 10n ** 18n,
    mediationFee: 10n ** 18n,
    auditPpm: 0,
    resultTimeout: 40,
    judgeWindow: 30,
    mediateTimeout: 120,
    expiry: BigInt(sec(T0) + 600),
    nonce: 1n,
    ...over
  }
}

export function sampleJob (over: Partial<JobOffer> = {}): Envelope<'JobOffer'> {
  return {
    kind: 'JobOffer',
    signature: '0x',
    value: {
      jobCreator: '0x' + 'aa'.repeat(20), module: 'cowsay:v0.0.1', inputs: '{"Message":"moo"}',
      spec: { cpu: 1000, ramMb: 512, diskMb: 100, gpus: 0, gpuVramMb: 0, gpuModel: '', cudaVersion: 0 }, maxPrice: 10n ** 19n, mediators: ['0x' + 'cc'.repeat(20)],
      target: '0x' + '00'.repeat(20), timeout: 30, auditPpm: 0, expiry: BigInt(sec(T0) + 600), nonce: 1n, seedCommit: '0x' + '00'.repeat(32), ...over
    }
  }
}
