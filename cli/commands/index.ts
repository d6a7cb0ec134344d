import type { Command } from '../command.ts'
import { version } from './version.ts'
import { bench } from './bench.ts'
import { module } from './module.ts'

// One line per command; each lives in its own file.
export const commands: Command[] = [
  version,
  module,
  bench
]
