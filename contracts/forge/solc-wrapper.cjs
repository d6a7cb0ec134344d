// Lets forge run offline: answers like the solc binary (`--version`, `--standard-json` on stdin) using solc from
// npm, resolving imports (e.g. @openzeppelin/...) from node_modules.
const fs = require('node:fs')
const path = require('node:path')
const solc = require('solc')

const args = process.argv.slice(2)
if (args.includes('--version')) {
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`)
  process.exit(0)
}
const input = fs.readFileSync(0, 'utf8')
const bases = [process.cwd(), path.join(__dirname, '..'), path.join(__dirname, '..', '..'), path.join(__dirname, '..', '..', 'node_modules')]
const ai = args.indexOf('--base-path')
if (ai >= 0) bases.unshift(args[ai + 1])
function findImports (p) {
  for (const b of bases) {
    const full = path.resolve(b, p)
    if (fs.existsSync(full)) return { contents: fs.readFileSync(full, 'utf8') }
  }
  try { return { contents: fs.readFileSync(require.resolve(p), 'utf8') } } catch { return { error: `not found: ${p}` } }
}
process.stdout.write(solc.compile(input, { import: findImports }))
