import { readFileSync } from 'node:fs'
import type { Command } from '../command.ts'

export const version: Command = {
  name: 'version',
  summary: 'Print the Lilypad version',
  usage: 'lilypad version',
  async run () {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
    console.log(`lilypad ${pkg.version} (node ${process.versions.node})`)
    return 0
  }
}
