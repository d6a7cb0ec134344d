// Bundles the browser mesh peer (mesh-peer.ts) with esbuild into one ES module a page can load; its
// exports are also put on `window.lilypad`. Libraries' "browser" fields select their browser builds.
//   npx node browser/bundle.ts <out.js>
import { build } from 'esbuild'
import { writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

export async function bundleMeshPeer (): Promise<string> {
  const result = await build({
    stdin: {
      contents: "import * as peer from './mesh-peer.ts'\nglobalThis.lilypad = peer\n",
      resolveDir: fileURLToPath(new URL('.', import.meta.url)),
      sourcefile: 'entry.ts',
      loader: 'ts'
    },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    minify: true,
    write: false,
    logLevel: 'silent'
  })
  return result.outputFiles[0].text
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = process.argv[2]
  if (out === undefined) { console.error('usage: node browser/bundle.ts <out.js>'); process.exit(2) }
  const js = await bundleMeshPeer()
  await writeFile(out, js)
  console.log(`${out}: ${(js.length / 1024).toFixed(0)} KiB`)
}
