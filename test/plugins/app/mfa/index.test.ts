// The second factor's plumbing: secrets sealed at rest and a key rotation, and the settings.
import t from 'tap'
import { Secret, TOTP } from 'otpauth'
import { loadConfig } from '../../../../plugins/app/config/index.js'
import { SecretBox } from '../../../../plugins/app/mfa/secret-box.js'
import { TOTP_PARAMS } from '../../../../plugins/app/mfa/index.js'
import { build, PASSWORD, post, register, TEST_SECRET } from '../../../helper.js'

const K1 = 'the-first-mfa-encryption-key-of-32-bytes'
const K2 = 'the-second-mfa-encryption-key-of-32-byte'
const USER = '550e8400-e29b-41d4-a716-446655440000'

t.test('SecretBox: AES-256-GCM bound to the user; the first key seals, every key opens', async (t) => {
  const old = new SecretBox([K1])
  const box = old.seal('JBSWY3DPEHPK3PXP', USER)
  t.match(box, /^v1\.[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/)
  t.not(old.seal('JBSWY3DPEHPK3PXP', USER), box, 'a fresh IV every time')
  t.equal(old.open(box, USER), 'JBSWY3DPEHPK3PXP')
  t.equal(old.open(box, '650e8400-e29b-41d4-a716-446655440000'), null, "another user's row does not open it")
  const [v, kid, iv, body] = box.split('.') as [string, string, string, string]
  const flipped = Buffer.from(body, 'base64url')
  flipped[0] ^= 1
  t.equal(old.open([v, kid, iv, flipped.toString('base64url')].join('.'), USER), null, 'altered: refused')
  t.equal(old.open('v1.nokey.aaaa.bbbb', USER), null)
  const rotated = new SecretBox([K2, K1])
  t.equal(rotated.open(box, USER), 'JBSWY3DPEHPK3PXP', 'the old key still opens')
  t.equal(rotated.isCurrent(box), false)
  t.equal(rotated.isCurrent(rotated.seal('x', USER)), true)
  t.equal(new SecretBox([K2]).open(box, USER), null, 'without the old key: nothing')
})

t.test('the settings: MFA_ISSUER, REAUTH_MAX_AGE, the keys, the relying party', async (t) => {
  const base = { NODE_ENV: 'test', JWT_SECRET: TEST_SECRET, DATA_DIR: '/tmp/auth-test-mfa-config' }
  const c = loadConfig({ ...base, MFA_ENCRYPTION_KEY: `${K1}, ${K2}` })
  t.same(c.mfa, { issuer: 'Auth service', reauthMaxAge: 300, encryptionKeys: [K1, K2], webauthn: { rpId: '127.0.0.1', rpName: 'Auth service', origins: ['http://127.0.0.1:8000'] } })
  const custom = loadConfig({ ...base, PUBLIC_URL: 'https://auth.example.com/base', MFA_ISSUER: 'Example', WEBAUTHN_ORIGINS: 'https://example.com,https://auth.example.com', WEBAUTHN_RP_ID: 'example.com' })
  t.same(custom.mfa.webauthn, { rpId: 'example.com', rpName: 'Example', origins: ['https://example.com', 'https://auth.example.com'] })
  t.throws(() => loadConfig({ ...base, WEBAUTHN_ORIGINS: 'https://evil.example' }), /WEBAUTHN_ORIGINS: https:\/\/evil.example is not on WEBAUTHN_RP_ID/)
  t.throws(() => loadConfig({ ...base, WEBAUTHN_ORIGINS: 'https://example.com/path' }), /WEBAUTHN_ORIGINS: not an origin/)
  t.throws(() => loadConfig({ ...base, MFA_ISSUER: 'a:b' }), /MFA_ISSUER/)
  t.throws(() => loadConfig({ ...base, REAUTH_MAX_AGE: '0' }), /REAUTH_MAX_AGE/)
  t.throws(() => loadConfig({ ...base, MFA_ENCRYPTION_KEY: 'short' }), /MFA_ENCRYPTION_KEY: a key is too short/)
  const message = (() => {
    try {
      loadConfig({ ...base, MFA_ENCRYPTION_KEY: 'a-secret-too-short' })
    } catch (err) {
      return (err as Error).message
    }
  })()
  t.notMatch(message, /a-secret-too-short/, 'the key is not echoed')
})

t.test('a key rotation: secrets sealed under the old key still work and are sealed again under the new one at their next use', async (t) => {
  const { app, variant } = await build(t, 'postgres', { MFA_ENCRYPTION_KEY: K1 })
  const user = await register(app)
  const at = 1_795_000_000_000
  app.mfa.now = () => at
  const { secret } = (await post(app, '/api/auth/mfa/totp/setup/', {}, user.access)).json()
  const code = (when: number) => TOTP.generate({ ...TOTP_PARAMS, secret: Secret.fromBase32(secret), timestamp: when })
  t.equal((await post(app, '/api/auth/mfa/totp/confirm/', { code: code(at) }, user.access)).statusCode, 200)
  const sealed = async () => (await app.prisma.totpDevice.findUnique({ where: { userId: user.id } }))!.secret
  const before = await sealed()
  t.equal(await app.mfa.rekey(), 0, 'every secret is under the first key')

  const onlyNew = await variant({ MFA_ENCRYPTION_KEY: K2 })
  onlyNew.mfa.now = () => at + 30_000
  const first = await post(onlyNew, '/api/auth/login/', { username: user.username, password: PASSWORD })
  t.equal((await post(onlyNew, '/api/auth/login/code/', { ephemeral_token: first.json().ephemeral_token, code: code(at + 30_000) })).statusCode, 500, 'without the old key the secret cannot be read (a 500, logged: a misconfiguration)')
  t.equal(await sealed(), before)

  const rotating = await variant({ MFA_ENCRYPTION_KEY: `${K2},${K1}` })
  rotating.mfa.now = () => at + 60_000
  const second = await post(rotating, '/api/auth/login/', { username: user.username, password: PASSWORD })
  t.equal((await post(rotating, '/api/auth/login/code/', { ephemeral_token: second.json().ephemeral_token, code: code(at + 60_000) })).statusCode, 200)
  const after = await sealed()
  t.not(after, before, 'sealed again')
  t.equal(await rotating.mfa.rekey(), 0, 'nothing left under the old key')
  t.equal(new SecretBox([K2]).open(after, user.id), secret, 'under the new key')

  onlyNew.mfa.now = () => at + 90_000
  const third = await post(onlyNew, '/api/auth/login/', { username: user.username, password: PASSWORD })
  t.equal((await post(onlyNew, '/api/auth/login/code/', { ephemeral_token: third.json().ephemeral_token, code: code(at + 90_000) })).statusCode, 200, 'the old key can go')
})

t.test('rekey seals every secret an older key sealed again, at once', async (t) => {
  const { app, variant } = await build(t, 'postgres', { MFA_ENCRYPTION_KEY: K1 })
  const users = await Promise.all([register(app), register(app), register(app)])
  for (const user of users) t.equal((await post(app, '/api/auth/mfa/totp/setup/', {}, user.access)).statusCode, 200)
  const rotating = await variant({ MFA_ENCRYPTION_KEY: `${K2},${K1}` })
  t.equal(await rotating.mfa.rekey(), 3)
  t.equal(await rotating.mfa.rekey(), 0)
  const rows = await app.prisma.totpDevice.findMany({ where: { userId: { in: users.map((u) => u.id) } } })
  t.equal(rows.filter((r) => new SecretBox([K2]).open(r.secret, r.userId) !== null).length, 3, 'all under the new key')
})
