// What every long-lived service of a node is built from, passed the way libp2p passes components: a service takes
// the slice it uses (`Pick<Components, 'clock' | 'logger'>`), never a global. The node adds its host, chain client
// and stores to these base components when it assembles itself.
import { systemClock, type Clock } from '../core/clock.ts'
import { createLogger, silentLogger, type Logger, type LoggerOptions } from './observability/logger.ts'
import { LilypadMetrics } from './observability/metrics.ts'

export interface Components {
  clock: Clock
  logger: Logger
  metrics: LilypadMetrics
}

export function createComponents (opts: { clock?: Clock, logger?: Logger | LoggerOptions, metrics?: LilypadMetrics } = {}): Components {
  const logger = opts.logger === undefined ? createLogger() : 'child' in opts.logger ? opts.logger as Logger : createLogger(opts.logger as LoggerOptions)
  return { clock: opts.clock ?? systemClock, logger, metrics: opts.metrics ?? new LilypadMetrics() }
}

/** Components for tests and library use that do not look at logs: silent, own registry without process metrics. */
export function quietComponents (clock: Clock = systemClock): Components {
  return { clock, logger: silentLogger(), metrics: new LilypadMetrics({ defaultMetrics: false }) }
}

/** Logs a handled error and counts it: the one way an error is set aside (never `catch {}`). */
export function reportError (c: Pick<Components, 'logger' | 'metrics'>, component: string, err: unknown, msg: string, fields: Record<string, unknown> = {}): void {
  const e = err as Error
  c.metrics.errors.inc({ component, kind: e?.name ?? 'Error' })
  // a child logger of the component already carries its name
  const named = (c.logger.bindings() as { component?: unknown }).component !== undefined
  c.logger.warn({ ...(named ? {} : { component }), ...fields, err: e }, msg)
}
