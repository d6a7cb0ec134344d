export const DEFAULT_HEARTBEAT_MS = 1000
export const DEFAULT_DIAL_TIMEOUT_MS = 5000

/**
 * How long gossipsub keeps a received message for our verdict (mcacheLength = this / heartbeat). A message whose
 * Accept comes later is never forwarded, so on a loaded machine with a fast test heartbeat (200 ms × the default
 * 5 = 1 s) offers silently stopped one hop short; validation waits in a queue and may take seconds under load.
 */
export const VERDICT_WINDOW_MS = 10_000
