// The settings of web clients: the service's own origin (PUBLIC_URL), the cookies of cookie mode
// (X-Auth-Mode: cookie), the origins trusted for cookie-authenticated requests (CSRF) and those
// allowed to call the API from a browser with credentials (CORS).
import { ConfigError } from './config-error.js'
import type { Env } from './env.js'

export type SameSite = 'strict' | 'lax' | 'none'

export interface WebConfig {
  /** The service's own origin (scheme, host, port; no path): links in e-mails, CSRF. */
  publicOrigin: string
  /** PUBLIC_URL as given, without a trailing slash (it may carry a path prefix). */
  publicUrl: string
  cookies: {
    /** REFRESH_COOKIE: the refresh token's cookie (Path=/api/auth/). */
    refresh: string
    /** ACCESS_COOKIE: the access token's cookie for server-rendered apps; null: none. */
    access: string | null
    secure: boolean
    sameSite: SameSite
    domain: string | null
  }
  /** Origins whose cookie-authenticated requests pass the CSRF check, besides publicOrigin. */
  csrfTrustedOrigins: string[]
  /** Origins that may call the API from a browser with credentials (CORS); empty: no CORS headers. */
  corsAllowedOrigins: string[]
}

/** The names of this machine that a browser on it may use for the service. */
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1'])

/** An origin as browsers send it in `Origin`: scheme://host[:port], lowercase, no default port. */
export function originOf (name: string, value: string): string {
  if (!URL.canParse(value)) throw new ConfigError(`${name}: not a URL (got ${JSON.stringify(value)})`)
  const url = new URL(value)
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${name}: must be http:// or https:// (got ${JSON.stringify(value)})`)
  return url.origin
}

/** A comma-separated list of origins; a wildcard is refused (credentials are never shared with "any origin"). */
function origins (name: string, value: string | undefined): string[] {
  const entries = (value ?? '').split(',').map((o) => o.trim()).filter(Boolean)
  for (const entry of entries) {
    if (entry.includes('*')) {
      throw new ConfigError(`${name}: list exact origins (https://app.example.com); a wildcard cannot be trusted with credentials (got ${JSON.stringify(entry)})`)
    }
    // An origin has no path: "https://app.example.com/" is tolerated, "https://app.example.com/x" is not.
    if (URL.canParse(entry) && !['', '/'].includes(new URL(entry).pathname)) {
      throw new ConfigError(`${name}: an origin has no path (got ${JSON.stringify(entry)})`)
    }
  }
  return [...new Set(entries.map((e) => originOf(name, e)))]
}

/** The web settings, and the warnings (deprecated names) to log at start. */
export function webConfig (env: Env, production: boolean): { web: WebConfig; warnings: string[] } {
  const warnings: string[] = []
  const publicUrl = (env.PUBLIC_URL ?? `http://${env.HOST.includes(':') ? `[${env.HOST}]` : env.HOST}:${env.PORT}`).replace(/\/+$/, '')
  const publicOrigin = originOf('PUBLIC_URL', publicUrl)
  const secure = env.COOKIE_SECURE === undefined ? production : env.COOKIE_SECURE === 'true' || env.COOKIE_SECURE === '1'
  const sameSite = (env.COOKIE_SAMESITE ?? 'Strict').toLowerCase() as SameSite
  if (sameSite === 'none' && !secure) throw new ConfigError('COOKIE_SAMESITE: None needs COOKIE_SECURE=true (browsers refuse SameSite=None cookies without Secure)')
  if (env.REFRESH_COOKIE === env.ACCESS_COOKIE) throw new ConfigError('ACCESS_COOKIE: must differ from REFRESH_COOKIE')
  let cors = env.CORS_ALLOWED_ORIGINS
  if (env.CORS_ORIGINS !== undefined) {
    if (cors === undefined) {
      cors = env.CORS_ORIGINS
      warnings.push('CORS_ORIGINS is deprecated: rename it CORS_ALLOWED_ORIGINS (the same list of origins)')
    } else {
      warnings.push('CORS_ORIGINS is deprecated and ignored: CORS_ALLOWED_ORIGINS is set')
    }
  }
  // On a developer's machine (no PUBLIC_URL, a loopback HOST, not production) the account pages
  // work whichever name of this machine the browser was pointed at.
  const loopback = env.PUBLIC_URL === undefined && !production && LOOPBACK.has(env.HOST)
  const csrfTrustedOrigins = origins('CSRF_TRUSTED_ORIGINS', env.CSRF_TRUSTED_ORIGINS)
  if (loopback) {
    for (const host of LOOPBACK) {
      const origin = `http://${host.includes(':') ? `[${host}]` : host}:${env.PORT}`
      if (origin !== publicOrigin && !csrfTrustedOrigins.includes(origin)) csrfTrustedOrigins.push(origin)
    }
  }
  return {
    web: {
      publicOrigin,
      publicUrl,
      cookies: { refresh: env.REFRESH_COOKIE, access: env.ACCESS_COOKIE ?? null, secure, sameSite, domain: env.COOKIE_DOMAIN ?? null },
      csrfTrustedOrigins,
      corsAllowedOrigins: origins(env.CORS_ALLOWED_ORIGINS === undefined && env.CORS_ORIGINS !== undefined ? 'CORS_ORIGINS' : 'CORS_ALLOWED_ORIGINS', cors)
    },
    warnings
  }
}
