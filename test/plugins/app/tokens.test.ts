import { createPublicKey, generateKeyPairSync } from 'node:crypto'
import t from 'tap'
import { build, claims, forge, get, header, post, register } from '../../helper.js'

const pems = (type: 'rsa' | 'ec' | 'ed25519') => {
  const { privateKey, publicKey } =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : type === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('ed25519')
  return {
    JWT_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString()
  }
}

t.test('HS256 by default: kid in the header, no keys published', async (t) => {
  const { app } = await build(t, 'embedded')
  const user = await register(app)
  const h = header(user.access)
  t.equal(h.alg, 'HS256')
  t.match(h.kid, /^hs-/)
  t.same((await get(app, '/.well-known/jwks.json')).json(), { keys: [] })
})

for (const [alg, type] of [['RS256', 'rsa'], ['ES256', 'ec'], ['EdDSA', 'ed25519']] as const) {
  t.test(`${alg}: signs, verifies, publishes its key, refuses algorithm confusion`, async (t) => {
    const keys = pems(type)
    const { app } = await build(t, 'embedded', { JWT_ALGORITHM: alg, ...keys })
    const user = await register(app)
    const h = header(user.access)
    t.equal(h.alg, alg)
    t.equal((await get(app, '/api/protected-endpoint/', user.access)).statusCode, 200)
    const rotated = await post(app, '/api/token/refresh/', { refresh: user.refresh })
    t.equal(rotated.statusCode, 200)
    const jwks = (await get(app, '/.well-known/jwks.json')).json()
    t.equal(jwks.keys.length, 1)
    t.match(jwks.keys[0], { kid: h.kid, alg, use: 'sig' })
    t.notOk(jwks.keys[0].d, 'no private part')
    // The published JWK is the verification key.
    t.equal(createPublicKey({ key: jwks.keys[0], format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString(), keys.JWT_PUBLIC_KEY)
    // HS256 signed with the public key as the HMAC secret (the classic confusion attack).
    const confused = forge({ ...h, alg: 'HS256' }, claims(user.access), keys.JWT_PUBLIC_KEY)
    t.equal((await get(app, '/api/protected-endpoint/', confused)).statusCode, 401)
    const none = forge({ ...h, alg: 'none' }, claims(user.access), null)
    t.equal((await get(app, '/api/protected-endpoint/', none)).statusCode, 401)
  })
}

t.test('key rotation: tokens of the previous key still verify, by kid', async (t) => {
  const oldSecret = 'the-old-secret-that-is-at-least-32-bytes-long'
  const newSecret = 'the-new-secret-that-is-at-least-32-bytes-long'
  // postgres mode: the instances share the database and the Redis token store.
  const { app: oldApp, variant } = await build(t, 'postgres', { JWT_SECRET: oldSecret, JWT_KEY_ID: 'k1' })
  const user = await register(oldApp)
  const newApp = await variant({ JWT_SECRET: newSecret, JWT_KEY_ID: 'k2', JWT_PREVIOUS_KEYS: JSON.stringify({ k1: oldSecret }) })
  t.equal((await get(newApp, '/api/protected-endpoint/', user.access)).statusCode, 200)
  const res = await post(newApp, '/api/token/refresh/', { refresh: user.refresh })
  t.equal(res.statusCode, 200)
  t.equal(header(res.json().access).kid, 'k2', 'new tokens use the new key')
  // Without the old key listed, the old key's tokens are refused and the new key's accepted.
  const strict = await variant({ JWT_SECRET: newSecret, JWT_KEY_ID: 'k2' })
  t.equal((await get(strict, '/api/protected-endpoint/', res.json().access)).statusCode, 200)
  const other = await register(oldApp)
  t.equal((await get(strict, '/api/protected-endpoint/', other.access)).statusCode, 401)
})

t.test('issuer and audience are set and checked when configured', async (t) => {
  const { app, variant } = await build(t, 'postgres', { JWT_ISSUER: 'https://auth.example.com', JWT_AUDIENCE: 'api' })
  const user = await register(app)
  t.match(claims(user.access), { iss: 'https://auth.example.com', aud: 'api' })
  t.equal((await get(app, '/api/protected-endpoint/', user.access)).statusCode, 200)
  const other = await variant({ JWT_AUDIENCE: 'another-api' })
  t.equal((await get(other, '/api/protected-endpoint/', user.access)).statusCode, 401)
})

t.test('a configured issuer or audience is required: a token without the claim is refused', async (t) => {
  const { app } = await build(t, 'embedded', { JWT_ISSUER: 'https://auth.example.com', JWT_AUDIENCE: 'api' })
  const user = await register(app)
  const real = claims(user.access)
  t.equal((await get(app, '/api/protected-endpoint/', forge(header(user.access), real))).statusCode, 200, 'the same claims, re-signed: accepted')
  const { iss: _iss, ...noIss } = real
  const { aud: _aud, ...noAud } = real
  for (const [what, forged] of [['no iss', noIss], ['no aud', noAud], ['another iss', { ...real, iss: 'https://evil.example' }]] as const) {
    const res = await get(app, '/api/protected-endpoint/', forge(header(user.access), forged))
    t.equal(res.statusCode, 401, what)
    t.equal(res.json().code, 'token_not_valid')
  }
  const refresh = claims(user.refresh)
  const { iss: _i, ...refreshNoIss } = refresh
  t.equal((await post(app, '/api/token/refresh/', { refresh: forge(header(user.refresh), refreshNoIss) })).statusCode, 401, 'refresh too')
})

t.test('an iat in the future beyond 30 s of clock skew is refused', async (t) => {
  const { app } = await build(t, 'embedded')
  const user = await register(app)
  const real = claims(user.access) as { iat: number; exp: number }
  const at = (shift: number) => forge(header(user.access), { ...real, iat: real.iat + shift, exp: real.exp + shift })
  t.equal((await get(app, '/api/protected-endpoint/', at(20))).statusCode, 200, '20 s ahead: within the skew')
  t.equal((await get(app, '/api/protected-endpoint/', at(120))).statusCode, 401, '2 minutes ahead')
  t.equal((await post(app, '/api/token/verify/', { token: at(3600) })).statusCode, 401, 'an hour ahead, on verify')
})
