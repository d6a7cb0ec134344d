// Process-wide settings for a process whose main work is a Lilypad node (the CLI, the soak's child processes).
// A program that embeds a node (the SDK's Lilypad.embedded) decides for itself.
import type { Components } from './components.ts'

/**
 * Node hands out small Buffers (under half of Buffer.poolSize) as views into shared slabs of Buffer.poolSize
 * bytes, 64 KiB in Node 24. A long-lived node keeps a few small buffers for every peer it ever met (routing-table
 * peer ids and XOR distances, peer-store records, multiaddr bytes), each in a different slab, so each one kept a
 * whole 64 KiB slab alive: with 120 short-lived peers coming and going, a node's ArrayBuffers grew from 0.7 to
 * 14.0 MB (8 KiB slabs, Node's old default: 0.5 to 4.2 MB; unpooled: 0.4 to 0.6 MB). That was the part of issue
 * 20's soak's RSS growth that sat in Buffers. Unpooled, a small buffer costs its own size and an allocation.
 */
export function tuneNodeProcess (): void {
  Buffer.poolSize = 0
}

/**
 * A long-running node reports a promise rejection nobody handled (a bug, ours or a library's: libp2p's DHT has had
 * queries whose abandoned promises rejected when their signal aborted) as an error, logged and counted, instead of
 * Node's default of ending the process and, with it, every deal the node is in the middle of. Returns a remover.
 */
export function reportUnhandledRejections (c: Pick<Components, 'logger' | 'metrics'>): () => void {
  const on = (reason: unknown): void => {
    const e = reason as Error
    c.metrics.errors.inc({ component: 'process', kind: e?.name ?? 'Error' })
    c.logger.error({ component: 'process', err: e }, 'a promise rejection nobody handled (a bug): reported, and the node goes on')
  }
  process.on('unhandledRejection', on)
  return () => { process.off('unhandledRejection', on) }
}
