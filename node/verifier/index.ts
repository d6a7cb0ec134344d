export { InlineVerifier, WorkerVerifier, VerifierClosedError, sharedVerifier, setSharedVerifier, defaultVerifierMode, defaultPoolSize, type SignatureVerifier, type VerifierMode } from './verifier.ts'
