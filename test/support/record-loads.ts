// Loaded with `node --import`: appends the URL of every module the process loads to $LILYPAD_RECORD_LOADS, so a test
// can tell what a command loaded (e.g. that a usage error never loads libp2p, ethers, Helia or dockerode).
import { registerHooks } from 'node:module'
import { appendFileSync } from 'node:fs'

const out = process.env.LILYPAD_RECORD_LOADS
if (out !== undefined && out !== '') {
  registerHooks({
    load (url, context, next) {
      appendFileSync(out, url + '\n')
      return next(url, context)
    }
  })
}
