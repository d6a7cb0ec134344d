// Contract-triggered jobs, the pure parts: canonical inputs, what a bridge agrees to run, the JobManager's config.
export { canonicalInputsJson, toInputList, checkInputList, parseRequestInputs, RequestInputsError, INPUT_KEY, MAX_INPUTS, MAX_KEY_BYTES, MAX_INPUT_BYTES } from './inputs.ts'
export { moduleRefKind, defaultAllowedModules, checkModule, vetRequest, checkTemplateInputs, clip, inlineOutput, MAX_REASON_BYTES, MAX_OUTPUT_BYTES } from './policy.ts'
export type { ModuleRefKind, ModuleVerdict, ContractJobRequest, BridgePolicy, Vetting } from './policy.ts'
export { jobManagerConfigToJson, jobManagerConfigFromJson, JobStatus, jobStatusName } from './config.ts'
export type { JobManagerConfig, JobManagerConfigJson, JobStatusName } from './config.ts'
