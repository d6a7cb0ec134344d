export { PeerGuard, guardOf, type PeerGuardInit, type BanListener, type GuardedHost } from './peer-guard.ts'
