export interface Command {
  name: string
  /** Other names, e.g. Lilypad v2's `resource-provider` for `node --roles resource-provider`. */
  aliases?: string[]
  summary: string
  usage: string
  /** Runs the command; resolves to the process exit code. */
  run: (argv: string[]) => Promise<number>
}

/**
 * What `lilypad help` lists without loading any command: a command's code, and libp2p, ethers, Docker and Helia
 * behind it, loads only when that command runs (a usage error must not cost the start-up of a node).
 */
export interface CommandEntry {
  name: string
  aliases?: string[]
  summary: string
  load: () => Promise<Command>
}
