// What a job asks of the slot it is matched to: the whole slot's CPU and memory, whatever it required to be matched.
// A slot runs one job at a time, so a job occupies the whole slot whatever it asks; asking for it makes every job
// proposed to one slot ask the same numbers — a user's `lilypad run cowsay`, one with `--cpu --ram`, and a
// validator's canary (which must ask for the whole slot: protocols/incentives/canary.ts, canaryAsk) — so a provider
// cannot tell a canary from a real job by its ask (docs/incentives.md, "The whole slot"). The job creator fixes the
// ask when it proposes to a slot, before it signs anything the provider sees: the job offer it proposes is the one it
// matched with the spec raised to the slot's (`jobOfferForSlot`); the deal names that offer. Matching, price and
// collateral are untouched: the matcher matched the requirement (a job that fits no slot is refused as before), a
// deal pays the offer's price per job whatever the job asks (never above the job's maxPrice), and the provider gives
// the container what the job asks (node/modules/requirement.ts, containerResources). Pure.
import type { JobOffer, MachineSpec, ResourceOffer } from './eip712.ts'

/**
 * The spec a job requiring `required` asks of `slot`: the slot's CPU and memory, never less than required (a slot
 * the matcher passed has at least that, so this is exactly the slot's; the provider refuses one that does not fit).
 * Disk and GPU terms stay as required: disk bounds the result's size (what the job creator fetches), and GPUs are
 * asked by the module or `--gpu`, never by a slot that happens to have them.
 */
export function slotAsk (required: MachineSpec, slot: Pick<MachineSpec, 'cpu' | 'ramMb'>): MachineSpec {
  return { ...required, cpu: Math.max(required.cpu, slot.cpu), ramMb: Math.max(required.ramMb, slot.ramMb) }
}

/** The job offer proposed to `slot`: `job` (as matched) asking for the whole slot. Nothing else changes. */
export function jobOfferForSlot (job: JobOffer, slot: Pick<ResourceOffer, 'spec'>): JobOffer {
  return { ...job, spec: slotAsk(job.spec, slot.spec) }
}

/** A key for the asks of one job: offers for slots of one shape share one signed job offer. */
export function askKey (spec: Pick<MachineSpec, 'cpu' | 'ramMb'>): string {
  return `${spec.cpu}/${spec.ramMb}`
}
