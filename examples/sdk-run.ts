// Runs cowsay on Lilypad with the SDK and prints the cow. Through the running node when LILYPAD_API_URL and
// LILYPAD_API_TOKEN are set (or LILYPAD_NODE_DIR names its data dir), else with a node started in this process.
//
//   node examples/sdk-run.ts                      # embedded node on the devnet ("lilypad devnet" running)
//   LILYPAD_NODE_DIR=~/.lilypad/nodes/devnet/0x… node examples/sdk-run.ts
import { Lilypad, LilypadError } from 'lilypad'

const env = process.env
const lp = env.LILYPAD_API_URL !== undefined && env.LILYPAD_API_TOKEN !== undefined
  ? await Lilypad.connect({ url: env.LILYPAD_API_URL, token: env.LILYPAD_API_TOKEN })
  : env.LILYPAD_NODE_DIR !== undefined
    ? await Lilypad.connect({ dataDir: env.LILYPAD_NODE_DIR })
    : await Lilypad.embedded({ network: env.LILYPAD_NETWORK ?? 'devnet' })
try {
  const before = await lp.balance()
  console.error(`deposit ${before.deposit.lp} LP, locked ${before.locked.lp} LP`)
  const ac = new AbortController()
  process.once('SIGINT', () => { ac.abort(new Error('interrupted')) })
  const out = await lp.run('cowsay:v0.0.1', { Message: env.MESSAGE ?? 'hello from the SDK' }, {
    signal: ac.signal,
    onProgress: e => {
      if (e.type === 'phase') console.error(`  ${e.data.phase.padEnd(10)} ${e.data.detail ?? ''}`)
      if (e.type === 'note') console.error(`  note: ${e.data.message}`)
    }
  })
  process.stdout.write(new TextDecoder().decode(await lp.get(out.jobId, 'stdout')))
  console.log(JSON.stringify({ jobId: out.jobId, dealId: out.dealId, resultCid: out.resultCid, exitCode: out.exitCode, status: out.status }))
} catch (err) {
  if (err instanceof LilypadError) {
    console.error(`error: ${err.name}: ${err.message}${err.hint !== undefined ? `\nhint: ${err.hint}` : ''}`)
    process.exitCode = 1
  } else throw err
} finally {
  await lp.close()
}
