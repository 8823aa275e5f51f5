// The guard of protected routes (plugins/app/auth.ts) in every mode: no credentials and every kind
// of bad token are refused with DRF's bodies and WWW-Authenticate.
import t from 'tap'
import { build, claims, forge, get, header, MODES, register } from '../../helper.js'

const NOT_PROVIDED = { detail: 'Authentication credentials were not provided.' }
const NOT_VALID = {
  detail: 'Given token not valid for any token type',
  code: 'token_not_valid',
  messages: [{ token_class: 'AccessToken', token_type: 'access', message: 'Token is invalid or expired' }]
}

for (const mode of MODES) {
  t.test(`authentication (${mode})`, async (t) => {
    const { app } = await build(t, mode)

    t.test('no credentials: 401 not provided with WWW-Authenticate', async (t) => {
      for (const headers of [{}, { authorization: '' }, { authorization: 'Bearer' }, { authorization: 'Bearer   ' }, { authorization: 'Basic abc' }]) {
        const res = await app.inject({ method: 'GET', url: '/api/protected-endpoint/', headers })
        t.equal(res.statusCode, 401, JSON.stringify(headers))
        t.same(res.json(), NOT_PROVIDED)
        t.equal(res.headers['www-authenticate'], 'Bearer realm="api"')
      }
    })

    t.test('bad, refresh-type, forged, alg none, expired tokens: 401 token_not_valid', async (t) => {
      const user = await register(app)
      const c = claims(user.access)
      const h = header(user.access)
      const now = Math.floor(Date.now() / 1000)
      const tokens = {
        garbage: 'not.a.token',
        refreshAsAccess: user.refresh,
        wrongSecret: forge(h, c, 'another-secret-that-is-at-least-32-bytes'),
        algNone: forge({ alg: 'none', typ: 'JWT', kid: h.kid }, c, null),
        hs512: forge({ ...h, alg: 'HS512' }, c),
        expired: forge(h, { ...c, iat: now - 1000, exp: now - 10 }),
        unknownKid: forge({ ...h, kid: 'other' }, c),
        noSession: forge(h, { ...c, sid: 'no-such-session' })
      }
      for (const [name, token] of Object.entries(tokens)) {
        const res = await get(app, '/api/protected-endpoint/', token)
        t.equal(res.statusCode, 401, name)
        t.same(res.json(), NOT_VALID, name)
        t.equal(res.headers['www-authenticate'], 'Bearer realm="api"', name)
      }
      // A correctly forged token with the real secret and a live session is accepted: the checks above failed for their reason.
      t.equal((await get(app, '/api/protected-endpoint/', forge(h, c))).statusCode, 200)
    })
  })
}
