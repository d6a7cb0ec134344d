// Structured logs (pino). Logs go to stderr — stdout belongs to a command's output (`--json` prints exactly one
// document there). JSON lines when stderr is not a terminal (for log shippers), a compact human line when it is.
// Secrets are redacted by key name wherever they appear; nothing should log them in the first place.
import { pino, type Logger, type LevelWithSilent, type DestinationStream } from 'pino'

export type { Logger }

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/** Field names whose values never reach a log line. */
const REDACT = ['privateKey', 'key', 'secret', 'token', 'password', 'mnemonic', 'swarmKey', '*.privateKey', '*.key', '*.secret', '*.token', '*.password']

export interface LoggerOptions {
  /** default: $LILYPAD_LOG_LEVEL, else 'info' */
  level?: LevelWithSilent
  /** fields on every line, e.g. { node: 'rp-1' } */
  base?: Record<string, unknown>
  /** where lines go (default stderr); 'json' forces JSON lines, 'pretty' the human format */
  format?: 'json' | 'pretty'
  destination?: DestinationStream
}

export class InvalidLogLevelError extends Error {
  static override name = 'InvalidLogLevelError'
  override name = 'InvalidLogLevelError'
}

export function parseLogLevel (text: string): LevelWithSilent {
  if (!(LOG_LEVELS as readonly string[]).includes(text)) throw new InvalidLogLevelError(`log level "${text}" is not one of ${LOG_LEVELS.join(', ')}`)
  return text as LevelWithSilent
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' }

/** One human line per record: `12:00:01.234 INFO  provider  deal agreed dealId=0x12… slot=0`. */
export function prettyLine (json: string): string {
  let rec: Record<string, unknown>
  try { rec = JSON.parse(json) as Record<string, unknown> } catch { return json }
  const { level, time, msg, component, pid: _pid, hostname: _host, ...rest } = rec
  const t = typeof time === 'number' ? new Date(time).toISOString().slice(11, 23) : ''
  const lv = (LEVEL_NAMES[level as number] ?? String(level)).padEnd(5)
  const fields = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')
  return `${t} ${lv} ${typeof component === 'string' ? component.padEnd(10) + ' ' : ''}${String(msg ?? '')}${fields !== '' ? ' ' + fields : ''}\n`
}

function prettyStderr (): DestinationStream {
  return { write (line: string) { process.stderr.write(prettyLine(line)) } }
}

export function createLogger (opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? (process.env.LILYPAD_LOG_LEVEL !== undefined && process.env.LILYPAD_LOG_LEVEL !== '' ? parseLogLevel(process.env.LILYPAD_LOG_LEVEL) : 'info')
  const format = opts.format ?? (process.stderr.isTTY === true ? 'pretty' : 'json')
  const destination = opts.destination ?? (format === 'pretty' ? prettyStderr() : pino.destination({ fd: 2, sync: true }))
  return pino({
    level,
    base: opts.base ?? {},
    redact: { paths: REDACT, censor: '[redacted]' },
    serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err }
  }, format === 'pretty' && opts.destination !== undefined ? { write (line: string) { opts.destination?.write(prettyLine(line)) } } : destination)
}

/** A logger that drops everything (library use, tests that do not look at logs). */
export function silentLogger (): Logger {
  return pino({ level: 'silent' })
}
