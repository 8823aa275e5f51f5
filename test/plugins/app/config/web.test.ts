// The web clients' settings: PUBLIC_URL, the cookies, CSRF and CORS origins.
import t from 'tap'
import { ConfigError, loadConfig } from '../../../../plugins/app/config/index.js'
import { TEST_SECRET } from '../../../helper.js'

const base = { NODE_ENV: 'test', JWT_SECRET: TEST_SECRET, DATA_DIR: '/tmp/auth-test-web-config' }
const web = (env: Record<string, string> = {}) => loadConfig({ ...base, ...env }).web
const refused = (env: Record<string, string>) => {
  try {
    loadConfig({ ...base, ...env })
  } catch (err) {
    if (err instanceof ConfigError) return err.message
    throw err
  }
  return null
}

t.test('defaults: PUBLIC_URL from HOST and PORT, refresh_token, Strict, not Secure outside production, no origins', async (t) => {
  t.same(web(), {
    publicOrigin: 'http://127.0.0.1:8000',
    publicUrl: 'http://127.0.0.1:8000',
    cookies: { refresh: 'refresh_token', access: null, secure: false, sameSite: 'strict', domain: null },
    // This machine's other names, on a developer's machine only.
    csrfTrustedOrigins: ['http://localhost:8000', 'http://[::1]:8000'],
    corsAllowedOrigins: []
  })
  t.same(web({ PUBLIC_URL: 'http://127.0.0.1:8000' }).csrfTrustedOrigins, [], 'not once PUBLIC_URL is set')
  t.same(web({ HOST: '0.0.0.0' }).csrfTrustedOrigins, [], 'nor for another HOST')
  t.same(loadConfig({ ...base, NODE_ENV: 'production', SMTP_URL: 'smtp://mail.example.com', MFA_ENCRYPTION_KEY: TEST_SECRET }).web.csrfTrustedOrigins, [], 'nor in production')
  t.equal(web({ HOST: '::1', PORT: '9000' }).publicOrigin, 'http://[::1]:9000')
  t.equal(loadConfig({ ...base, NODE_ENV: 'production', SMTP_URL: 'smtp://mail.example.com', MFA_ENCRYPTION_KEY: TEST_SECRET }).web.cookies.secure, true, 'Secure in production')
  t.equal(web({ COOKIE_SECURE: 'true' }).cookies.secure, true)
})

t.test('PUBLIC_URL: its origin for CSRF; a path is kept for links', async (t) => {
  t.match(web({ PUBLIC_URL: 'https://auth.example.com/' }), { publicOrigin: 'https://auth.example.com', publicUrl: 'https://auth.example.com' })
  t.match(web({ PUBLIC_URL: 'https://example.com:443/auth' }), { publicOrigin: 'https://example.com', publicUrl: 'https://example.com:443/auth' })
  t.match(refused({ PUBLIC_URL: 'auth.example.com' }), /^PUBLIC_URL: not a URL/)
  t.match(refused({ PUBLIC_URL: 'ftp://auth.example.com' }), /^PUBLIC_URL: must be http/)
})

t.test('origins: exact, normalised, no wildcard, no path', async (t) => {
  const w = web({ PUBLIC_URL: 'https://auth.example.com', CSRF_TRUSTED_ORIGINS: 'https://App.Example.com/, http://localhost:3000', CORS_ALLOWED_ORIGINS: 'https://app.example.com' })
  t.same(w.csrfTrustedOrigins, ['https://app.example.com', 'http://localhost:3000'])
  t.same(w.corsAllowedOrigins, ['https://app.example.com'])
  t.match(refused({ CORS_ALLOWED_ORIGINS: '*' }), /^CORS_ALLOWED_ORIGINS: list exact origins .* a wildcard cannot be trusted with credentials/)
  t.match(refused({ CSRF_TRUSTED_ORIGINS: 'https://*.example.com' }), /^CSRF_TRUSTED_ORIGINS: list exact origins/)
  t.match(refused({ CSRF_TRUSTED_ORIGINS: 'https://app.example.com/login' }), /^CSRF_TRUSTED_ORIGINS: an origin has no path/)
})

t.test('CORS_ORIGINS: the deprecated name, read with a warning; ignored when the new one is set', async (t) => {
  const old = loadConfig({ ...base, CORS_ORIGINS: 'https://app.example.com' })
  t.same(old.web.corsAllowedOrigins, ['https://app.example.com'])
  t.match(old.warnings, [/CORS_ORIGINS is deprecated: rename it CORS_ALLOWED_ORIGINS/])
  t.match(refused({ CORS_ORIGINS: '*' }), /^CORS_ORIGINS: list exact origins/, 'a wildcard is refused under the old name too')
  const both = loadConfig({ ...base, CORS_ORIGINS: 'https://old.example.com', CORS_ALLOWED_ORIGINS: 'https://new.example.com' })
  t.same(both.web.corsAllowedOrigins, ['https://new.example.com'])
  t.match(both.warnings, [/CORS_ORIGINS is deprecated and ignored/])
  t.same(loadConfig(base).warnings, [])
})

t.test('cookies: SameSite=None needs Secure; the two cookie names differ; names are cookie tokens', async (t) => {
  t.match(refused({ COOKIE_SAMESITE: 'None' }), /^COOKIE_SAMESITE: None needs COOKIE_SECURE=true/)
  t.equal(web({ COOKIE_SAMESITE: 'None', COOKIE_SECURE: 'true' }).cookies.sameSite, 'none')
  t.match(refused({ ACCESS_COOKIE: 'refresh_token' }), /^ACCESS_COOKIE: must differ from REFRESH_COOKIE/)
  t.match(refused({ REFRESH_COOKIE: 'a b' }), /REFRESH_COOKIE/)
  t.equal(web({ COOKIE_DOMAIN: '.example.com' }).cookies.domain, '.example.com')
})
