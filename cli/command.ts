export interface Command {
  name: string
  /** Other names, e.g. Lilypad v2's `resource-provider` for `node --roles resource-provider`. */
  aliases?: string[]
  summary: string
  usage: string
  /** Runs the command; resolves to the process exit code. */
  run: (argv: string[]) => Promise<number>
}
