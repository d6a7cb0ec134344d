export { PeerGuard, type PeerGuardInit, type BanListener } from './peer-guard.ts'
