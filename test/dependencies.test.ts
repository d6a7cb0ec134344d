// One copy of the libraries whose types and classes cross package boundaries: two copies of
// @libp2p/interface or multiformats make instanceof checks and CID equality fail in subtle ways.
import test from 'ava'
import { readdirSync, readFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'

function versionsOf (pkg: string, dir = 'node_modules', found = new Set<string>()): Set<string> {
  const manifest = join(dir, pkg, 'package.json')
  if (existsSync(manifest)) found.add((JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version)
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name === '.bin') continue
    const scoped = entry.name.startsWith('@')
    const children = scoped ? readdirSync(join(dir, entry.name)).map(n => join(entry.name, n)) : [entry.name]
    for (const child of children) {
      const nested = join(dir, child, 'node_modules')
      if (existsSync(nested)) versionsOf(pkg, nested, found)
    }
  }
  return found
}

for (const pkg of ['@libp2p/interface', 'multiformats']) {
  test(`exactly one version of ${pkg} is installed`, t => {
    const versions = [...versionsOf(pkg)]
    t.is(versions.length, 1, `${pkg} versions installed: ${versions.join(', ')}`)
  })
}
