// The account pages (API.md, "Account pages"): static files under /account/ (sign in and up,
// devices, password, deletion, and the reset and verification links' landing pages), built on the
// browser client /account/auth-client.js that web apps may import too. Everything comes from this
// origin and no script is inline, so the pages are sent with a strict Content-Security-Policy;
// they are never framed (X-Frame-Options, frame-ancestors). Off with ACCOUNT_PAGES=false.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import fastifyStatic from '@fastify/static'

/** The pages' folder: beside this file in the sources, and found from dist/ after a build. */
function pagesRoot (): string {
  const candidates = [new URL('./pages/', import.meta.url), new URL('../../../../src/routes/account/pages/', import.meta.url)]
  const found = candidates.map((u) => fileURLToPath(u)).find((path) => existsSync(path))
  if (!found) throw new Error('the account pages are missing (src/routes/account/pages/)')
  return found
}

export const ACCOUNT_PAGE_HEADERS = {
  'content-security-policy': [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'"
  ].join('; '),
  'x-frame-options': 'DENY',
  // Same-origin requests keep their Referer (and a POST its Origin, which the CSRF check reads);
  // nothing of a page's address (a reset link's token) goes to another site.
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin'
}

/** The folders with a page, whose address must end with a slash for the page's relative links. */
const PAGE_FOLDERS = new Set(['', '/reset', '/verify', '/email'])

export default async function accountPages (fastify: FastifyInstance) {
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.headers(ACCOUNT_PAGE_HEADERS)
    // /account/reset?uid=... -> reset/?uid=... (relative, so a path prefix before /account survives).
    const query = request.url.indexOf('?')
    const path = query === -1 ? request.url : request.url.slice(0, query)
    const inside = path.slice(path.indexOf('/account') + '/account'.length)
    if (PAGE_FOLDERS.has(inside) && (request.method === 'GET' || request.method === 'HEAD')) {
      const last = path.slice(path.lastIndexOf('/') + 1)
      reply.redirect(`${last}/${query === -1 ? '' : request.url.slice(query)}`, 301)
      return
    }
    done()
  })
  await fastify.register(fastifyStatic, {
    root: pagesRoot(),
    prefix: '/',
    // The files change with each release and are small: revalidated every time (no-store is
    // set for every answer by the app; pages carry no secret, but the rule stays simple).
    cacheControl: false,
    etag: true,
    lastModified: false,
    index: ['index.html'],
    wildcard: false
  })
}
