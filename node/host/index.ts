export { createHost, localMeshOptions, type HostOptions, type LilypadHost, type LilypadServices } from './create-host.ts'
export { loadOrCreatePeerKey, createSwarmKey, writeSwarmKeyFile, readSwarmKeyFile, KeyFileError } from './keys.ts'
export { hostOptionsFromNetwork, domainOfNetwork } from './from-network.ts'
