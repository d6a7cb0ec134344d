// Serves the console (console/: a Preact app bundled with esbuild when the API starts) from the API's own
// origin, so the app calls the API same-origin with the bearer token and nothing else is reachable from it: the
// Content-Security-Policy allows scripts, styles and connections to this origin only (images also from blob:
// URLs the app makes of result files). GET / redirects to /ui/.
import type { FastifyInstance } from 'fastify'
import { bundleConsole } from '../../console/bundle.ts'

export const CONSOLE_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' blob: data:", "media-src 'self' blob:",
  "connect-src 'self'", "font-src 'self'", "manifest-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"
].join('; ')

const HEADERS = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin'
}

export async function registerConsole (app: FastifyInstance): Promise<void> {
  const b = await bundleConsole()
  const files: Record<string, { type: string, body: string }> = {
    'app.js': { type: 'text/javascript; charset=utf-8', body: b.js },
    'app.css': { type: 'text/css; charset=utf-8', body: b.css }
  }
  app.get('/', async (_req, reply) => await reply.code(302).header('location', '/ui/').headers(HEADERS).send())
  app.get('/ui/', async (_req, reply) => await reply.headers(HEADERS).type('text/html; charset=utf-8').send(b.html))
  app.get('/ui/*', async (req, reply) => {
    const f = files[(req.params as { '*': string })['*']]
    if (f === undefined) return await reply.code(404).headers(HEADERS).type('application/json').send({ error: { name: 'RouteNotFoundError', message: 'no such console file', hint: 'open /ui/' } })
    return await reply.headers(HEADERS).type(f.type).send(f.body)
  })
}
