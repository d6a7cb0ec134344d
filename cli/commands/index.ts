import type { Command } from '../command.ts'
import { version } from './version.ts'
import { simulate } from './simulate.ts'

// One line per command; each lives in its own file.
export const commands: Command[] = [
  version,
  simulate
]
