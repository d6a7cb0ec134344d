import type { Command } from '../command.ts'
import { version } from './version.ts'
import { bench } from './bench.ts'
import { module } from './module.ts'
import { run } from './run.ts'
import { devnet } from './devnet.ts'
import { node, resourceProvider, solver, mediator, jobcreator } from './node.ts'
import { network } from './network.ts'
import { faucet } from './faucet.ts'
import { simulate } from './simulate.ts'

// One line per command; each lives in its own file.
export const commands: Command[] = [
  run,
  devnet,
  node,
  resourceProvider,
  solver,
  mediator,
  jobcreator,
  network,
  faucet,
  module,
  simulate,
  bench,
  version
]
