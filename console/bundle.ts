// Bundles the console (app/main.tsx and its CSS) with esbuild, in memory, once per process: ~0.1–0.3 s when a node
// starts with --ui, so there is no build output to commit or keep current. Everything the app uses is in the
// bundle (no fonts, scripts or styles from elsewhere).
//   node console/bundle.ts <dir>   writes index.html, app.js and app.css there (to look at the sizes)
import { build } from 'esbuild'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface ConsoleBundle { html: string, js: string, css: string }

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Lilypad console</title>
<link rel="stylesheet" href="/ui/app.css">
<script type="module" src="/ui/app.js"></script>
</head>
<body>
<div id="app"><noscript>The Lilypad console needs JavaScript.</noscript></div>
</body>
</html>
`

let cached: Promise<ConsoleBundle> | undefined

async function make (): Promise<ConsoleBundle> {
  const dir = fileURLToPath(new URL('.', import.meta.url))
  const r = await build({
    entryPoints: [join(dir, 'app', 'main.tsx')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome110',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: true,
    outdir: '/ui',
    write: false,
    logLevel: 'silent',
    legalComments: 'none'
  })
  const js = r.outputFiles.find(f => f.path.endsWith('.js'))?.text
  const css = r.outputFiles.find(f => f.path.endsWith('.css'))?.text
  if (js === undefined || css === undefined) throw new Error('the console bundle lacks app.js or app.css')
  return { html: HTML, js, css }
}

/** The console's files (built on the first call; later calls share it). */
export async function bundleConsole (): Promise<ConsoleBundle> {
  cached ??= make()
  cached.catch(() => { cached = undefined })
  return await cached
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = process.argv[2]
  if (out === undefined) { console.error('usage: node console/bundle.ts <dir>'); process.exit(2) }
  const t0 = performance.now()
  const b = await bundleConsole()
  await mkdir(out, { recursive: true })
  await Promise.all([writeFile(join(out, 'index.html'), b.html), writeFile(join(out, 'app.js'), b.js), writeFile(join(out, 'app.css'), b.css)])
  console.log(`app.js ${(b.js.length / 1024).toFixed(1)} KiB, app.css ${(b.css.length / 1024).toFixed(1)} KiB, built in ${Math.round(performance.now() - t0)} ms`)
}
