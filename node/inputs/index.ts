// Job inputs: what a module's spec names (IPFS CIDs, http(s) URLs) fetched by the provider within the job's
// time and disk share, and mounted read-only where the spec says. docs/modules.md, "Inputs".
export { stageInputs, stageJobInputs } from './stage.ts'
export type { StageOptions, StagedInputs, StagedInput, InputMount, BlockReader } from './stage.ts'
export { planInputs, checkMountPath, fileNameOf, hasIpfsInput } from './plan.ts'
export type { PlannedInput, IpfsInput, UrlInput } from './plan.ts'
export { DEFAULT_INPUT_POLICY, inputPolicy } from './policy.ts'
export type { InputPolicy } from './policy.ts'
export { FetchSlots } from './fetch-slots.ts'
export { AddressPolicy, specialRange, checkAddressRanges } from './address.ts'
export type { BlockSource } from './ipfs.ts'
export {
  InputError, TooManyInputsError, InputPathError, UnsupportedInputError, InputTooLargeError, InputTimeoutError,
  InputChecksumError, InputAddressRefusedError, InputRedirectError, InputHttpError, InputUnreachableError,
  InputContentError, InputsAbortedError
} from './errors.ts'
export type { InputRef } from './errors.ts'
export { InsufficientDiskError, DiskFullError } from '../result-store/disk.ts'
export { writeInputErrorResult, isJobInputFault, INPUT_ERROR_EXIT_CODE } from './result.ts'
