// Builds the built-in modules' images locally, offline (network mode none, FROM scratch + the host's static
// busybox), and pins specs to image ids. Idempotent: an image whose context hash label matches is reused.
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type Docker from 'dockerode'
import { pack } from 'tar-stream'
import { BUILTIN_MODULES_DIR, loadRegistry } from './refs.ts'
import type { JobSpec } from './spec.ts'

export const BUSYBOX_PATH = '/bin/busybox'
const CONTEXT_LABEL = 'org.lilypad.context-hash'

export class ImageBuildError extends Error {
  static override name = 'ImageBuildError'
  override name = 'ImageBuildError'
}

export interface BuiltImage { tag: string, id: string, built: boolean }

interface ContextFile { name: string, data: Buffer, mode: number }

function contextFiles (moduleDir: string, busybox: string): ContextFile[] {
  const files: ContextFile[] = []
  for (const name of readdirSync(moduleDir).sort()) {
    if (name === 'lilypad_module.json.tmpl') continue
    const p = join(moduleDir, name)
    const st = statSync(p)
    if (!st.isFile()) continue
    files.push({ name, data: readFileSync(p), mode: name.endsWith('.sh') ? 0o755 : 0o644 })
  }
  files.push({ name: 'busybox', data: readFileSync(busybox), mode: 0o755 })
  return files
}

function contextHash (files: ContextFile[]): string {
  const h = createHash('sha256')
  for (const f of files) h.update(`${f.name}\0${f.mode}\0${f.data.length}\0`).update(f.data)
  return h.digest('hex')
}

/** Builds (or reuses) the image for a module directory holding a Dockerfile; returns its id (sha256:…). */
export async function ensureModuleImage (docker: Docker, moduleDir: string, tag: string, opts: { busybox?: string, signal?: AbortSignal } = {}): Promise<BuiltImage> {
  const files = contextFiles(moduleDir, opts.busybox ?? BUSYBOX_PATH)
  if (!files.some(f => f.name === 'Dockerfile')) throw new ImageBuildError(`${moduleDir} has no Dockerfile`)
  const hash = contextHash(files)
  try {
    const info = await docker.getImage(tag).inspect()
    if (info.Config?.Labels?.[CONTEXT_LABEL] === hash) return { tag, id: info.Id, built: false }
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode !== 404) throw e
  }
  const tar = pack()
  for (const f of files) {
    const data = f.name === 'Dockerfile' ? Buffer.concat([f.data, Buffer.from(`\nLABEL ${CONTEXT_LABEL}="${hash}"\n`)]) : f.data
    // Fixed mtimes and owners keep the build context (and so the layer cache) stable.
    tar.entry({ name: f.name, mode: f.mode, mtime: new Date(0), uid: 0, gid: 0 }, data)
  }
  tar.finalize()
  const stream = await docker.buildImage(tar as unknown as NodeJS.ReadableStream, { t: tag, networkmode: 'none', rm: true, forcerm: true, abortSignal: opts.signal })
  const events = await new Promise<Array<{ error?: string, errorDetail?: { message?: string }, aux?: { ID?: string } }>>((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, res: Array<{ error?: string }>) => { if (err !== null) reject(err); else resolve(res) })
  })
  const failed = events.find(e => e.error !== undefined)
  if (failed !== undefined) throw new ImageBuildError(`building ${tag}: ${failed.errorDetail?.message ?? failed.error}`)
  const info = await docker.getImage(tag).inspect()
  // A rebuild moves the tag; drop the now untagged images of earlier builds (ours only, by label).
  await docker.pruneImages({ filters: { dangling: ['true'], label: [CONTEXT_LABEL] } }).catch(() => { /* in use or raced: harmless */ })
  return { tag, id: info.Id, built: true }
}

/** Builds every built-in module's image named in modules/registry.json. */
export async function ensureBuiltinImages (docker: Docker, opts: { modulesDir?: string, busybox?: string, only?: string[] } = {}): Promise<Map<string, BuiltImage>> {
  const dir = opts.modulesDir ?? BUILTIN_MODULES_DIR
  const out = new Map<string, BuiltImage>()
  const seen = new Map<string, BuiltImage>()
  for (const [ref, entry] of Object.entries(loadRegistry(dir))) {
    if (entry.image === undefined) continue
    if (opts.only !== undefined && !opts.only.includes(ref) && !opts.only.includes(entry.image)) continue
    let img = seen.get(entry.image)
    if (img === undefined) {
      img = await ensureModuleImage(docker, join(dir, entry.dir), entry.image, { busybox: opts.busybox })
      seen.set(entry.image, img)
    }
    out.set(ref, img)
  }
  return out
}

/**
 * Pins a spec's image to the local image id. A built-in module's tag is built first if missing; any other
 * image must already be present (or be pulled by the executor's preflight).
 */
export async function pinSpecImage (docker: Docker, spec: JobSpec, opts: { modulesDir?: string, busybox?: string } = {}): Promise<JobSpec> {
  if (/^sha256:[0-9a-f]{64}$/.test(spec.image)) return spec
  const dir = opts.modulesDir ?? BUILTIN_MODULES_DIR
  const entry = Object.values(loadRegistry(dir)).find(e => e.image === spec.image)
  if (entry !== undefined) {
    const img = await ensureModuleImage(docker, join(dir, entry.dir), spec.image, { busybox: opts.busybox })
    return { ...spec, image: img.id }
  }
  try {
    const info = await docker.getImage(spec.image).inspect()
    return { ...spec, image: info.Id }
  } catch {
    return spec
  }
}
