// API_PROFILE: for each profile, a recorded client (what a client written from that backend's
// documentation does over a day, request by request, asserting every status and field it reads),
// then every error path in the profile's words. Every answer also goes through the contract
// check, against the document of the profile under test.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, claims, get, PASSWORD, post, register, uniqueName } from '../helper.js'
import { Secret, TOTP } from 'otpauth'
import { newId } from '../../plugins/app/ids.js'
import { TOTP_PARAMS } from '../../plugins/app/mfa/index.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
/** Beyond the grace interval (REFRESH_REUSE_INTERVAL=1 below): a rotating service would call the kept token reuse. */
const PAST_GRACE_MS = 1_100

/** A refresh token that verifies but expired an hour ago (the app's own key). */
function expiredRefresh (app: FastifyInstance, userId: string): string {
  const now = Math.floor(Date.now() / 1000)
  return app.tokens.signRefresh(userId, newId(), { jti: newId(), iat: now - 7200, exp: now - 3600 }, { amr: ['pwd'], auth_time: now - 7200 })
}

t.test('camelcase: a recorded client of seed backend 002', async (t) => {
  const { app } = await build(t, 'embedded', { API_PROFILE: 'camelcase', REFRESH_REUSE_INTERVAL: '1' })
  t.equal(app.config.rotateRefreshTokens, false, 'no rotation under this profile by default')
  const username = uniqueName('camel')
  const email = `${username}@example.com`
  // Sign-up is not part of that client's dialect: it answers as the contract does.
  t.equal((await post(app, '/api/auth/register', { username, email, password: PASSWORD })).statusCode, 201)

  // 09:00 login with the e-mail address.
  const login = await post(app, '/api/auth/login', { email, password: PASSWORD })
  t.equal(login.statusCode, 200)
  const { token, refreshToken } = login.json()
  t.same(Object.keys(login.json()).sort(), ['refreshToken', 'token'])
  t.equal(claims(token).token_type, 'access')
  t.equal(claims(refreshToken).token_type, 'refresh')

  // Through the day: refreshes spaced beyond the grace interval, always with the same token.
  let access = token
  for (let i = 0; i < 3; i++) {
    await sleep(PAST_GRACE_MS)
    const res = await post(app, '/api/auth/refresh', { refreshToken })
    t.equal(res.statusCode, 200, `refresh ${i + 1}`)
    t.same(Object.keys(res.json()), ['token'], 'only a new access token')
    access = res.json().token
  }
  const protectedCall = await get(app, '/api/protected-endpoint/', access)
  t.equal(protectedCall.statusCode, 200)
  t.same(protectedCall.json(), { message: 'You have accessed a protected route!' })

  // Evening: log out with the refresh token alone.
  const logout = await post(app, '/api/auth/logout', { refreshToken })
  t.equal(logout.statusCode, 200)
  t.same(logout.json(), { message: 'Sesión cerrada correctamente' })
  const after = await post(app, '/api/auth/refresh', { refreshToken })
  t.equal(after.statusCode, 401)
  t.same(after.json(), { error: 'Refresh token inválido o expirado' })
  const refused = await get(app, '/api/protected-endpoint/', access)
  t.equal(refused.statusCode, 401, 'the access token died with its session')
  t.same(refused.json(), { error: 'Given token not valid for any token type' }, 'in the profile\'s envelope')
})

t.test('camelcase: every error path in its words', async (t) => {
  const { app } = await build(t, 'embedded', { API_PROFILE: 'camelcase', RATE_LIMIT_ENABLED: 'true', LOGIN_FAILURES_PER_USER_IP: '2', LOGIN_ATTEMPTS_PER_IP: '100' })
  const user = await register(app)
  const error = async (url: string, body: unknown, status: number, message: string, access?: string) => {
    const res = await post(app, url, body, access)
    t.equal(res.statusCode, status, `${url} ${JSON.stringify(body)}: ${status}`)
    t.same(res.json(), { error: message })
    return res
  }
  await error('/api/auth/login', {}, 400, 'Datos incompletos')
  await error('/api/auth/login', { email: user.email }, 400, 'Datos incompletos')
  await error('/api/auth/refresh', {}, 400, 'Refresh token requerido')
  await error('/api/auth/refresh', { refreshToken: 'not-a-token' }, 401, 'Refresh token inválido o expirado')
  await error('/api/auth/refresh', { refreshToken: expiredRefresh(app, user.id) }, 401, 'Refresh token inválido o expirado')
  await error('/api/auth/logout', {}, 400, 'Refresh token requerido')
  // Revoked: logged out, then refreshed.
  await post(app, '/api/auth/logout', { refreshToken: user.refresh })
  await error('/api/auth/refresh', { refreshToken: user.refresh }, 401, 'Refresh token inválido o expirado')
  // Routes the profile does not list answer as the contract, with its envelope for errors.
  await error('/api/token/refresh/', {}, 400, 'refresh: This field is required.')
  const me = await get(app, '/api/auth/me/')
  t.equal(me.statusCode, 401)
  t.same(me.json(), { error: 'Authentication credentials were not provided.' })
  t.same((await get(app, '/nope')).json(), { error: 'Not found.' })
  // Two wrong passwords, then throttled: 429 in the profile's words, with Retry-After.
  await error('/api/auth/login', { email: user.email, password: 'wrong-1' }, 401, 'Invalid credentials')
  await error('/api/auth/login', { email: user.email, password: 'wrong-2' }, 401, 'Invalid credentials')
  const throttled = await error('/api/auth/login', { email: user.email, password: PASSWORD }, 429, 'Demasiados intentos de login, intenta más tarde.')
  t.match(throttled.headers['retry-after'], /^\d+$/)
})

t.test('envelope: a recorded client of seed backend 004', async (t) => {
  const { app } = await build(t, 'embedded', { API_PROFILE: 'envelope', REFRESH_REUSE_INTERVAL: '1' })
  const username = uniqueName('env')
  const reg = await post(app, '/api/auth/register/', { username, email: `${username}@example.com`, password: PASSWORD, first_name: 'Ada', last_name: 'L' })
  t.equal(reg.statusCode, 201)
  const { content } = reg.json()
  t.same(Object.keys(reg.json()), ['content'])
  t.ok(Number.isInteger(content.pk) && content.pk > 0, `pk is an integer (${content.pk})`)
  t.match(content, { username, email: `${username}@example.com`, first_name: 'Ada', last_name: 'L', profile_image: null })
  t.same(Object.keys(content.tokens).sort(), ['access', 'refresh'])
  t.not(claims(content.tokens.access).user_id, content.pk, 'the user_id claim stays the UUID')

  const login = await post(app, '/api/auth/login/', { username, password: PASSWORD })
  t.equal(login.statusCode, 200)
  t.same(Object.keys(login.json()).sort(), ['access', 'refresh'])
  const { refresh } = login.json()
  let access = login.json().access
  for (let i = 0; i < 3; i++) {
    await sleep(PAST_GRACE_MS)
    const res = await post(app, '/api/auth/refresh/', { refresh })
    t.equal(res.statusCode, 200, `refresh ${i + 1}`)
    t.same(Object.keys(res.json()), ['access'])
    access = res.json().access
  }
  t.equal((await get(app, '/api/auth/me/', access)).json().username, username)

  const logout = await post(app, '/api/auth/logout/', { refresh_token: refresh })
  t.equal(logout.statusCode, 200)
  t.same(logout.json(), { detail: 'Successfully logged out.' })
  const after = await post(app, '/api/auth/refresh/', { refresh })
  t.equal(after.statusCode, 401)
  t.same(after.json(), { error: 'Token is invalid or expired' })

  // A second user's number is the next one: assigned at creation.
  const next = await post(app, '/api/auth/register/', { username: `${username}_2`, email: `${username}_2@example.com`, password: PASSWORD })
  t.ok(next.json().content.pk > content.pk)
})

t.test('envelope: every error path in its words', async (t) => {
  const { app } = await build(t, 'embedded', { API_PROFILE: 'envelope', RATE_LIMIT_ENABLED: 'true', LOGIN_FAILURES_PER_USER_IP: '1', LOGIN_ATTEMPTS_PER_IP: '100' })
  const username = uniqueName('env')
  const { content } = (await post(app, '/api/auth/register/', { username, email: `${username}@example.com`, password: PASSWORD })).json()
  const user = { username, refresh: content.tokens.refresh as string, id: claims(content.tokens.access).user_id as string }
  const error = async (url: string, body: unknown, status: number, expected: unknown) => {
    const res = await post(app, url, body)
    t.equal(res.statusCode, status, `${url} ${JSON.stringify(body)}: ${status}`)
    t.same(res.json(), { error: expected })
    return res
  }
  await error('/api/auth/register/', { username: user.username, email: 'not-an-email', password: PASSWORD }, 400, {
    username: ['A user with that username already exists.'],
    email: ['Enter a valid email address.']
  })
  await error('/api/auth/login/', {}, 400, { username: ['This field is required.'], password: ['This field is required.'] })
  await error('/api/auth/refresh/', {}, 400, { refresh: ['This field is required.'] })
  await error('/api/auth/refresh/', { refresh: 'garbage' }, 401, 'Token is invalid or expired')
  await error('/api/auth/refresh/', { refresh: expiredRefresh(app, user.id) }, 401, 'Token is invalid or expired')
  await error('/api/auth/logout/', {}, 400, 'Refresh token required.')
  await error('/api/auth/logout/', { refresh_token: 'garbage' }, 400, 'Invalid or expired refresh token.')
  t.equal((await post(app, '/api/auth/logout/', { refresh_token: user.refresh })).statusCode, 200)
  await error('/api/auth/logout/', { refresh_token: user.refresh }, 400, 'Invalid or expired refresh token.')
  await error('/api/auth/refresh/', { refresh: user.refresh }, 401, 'Token is invalid or expired')
  await error('/api/auth/login/', { username: user.username, password: 'wrong' }, 401, 'No active account found with the given credentials')
  const throttled = await post(app, '/api/auth/login/', { username: user.username, password: PASSWORD })
  t.equal(throttled.statusCode, 429)
  t.match(throttled.json(), { error: /^Request was throttled\. Expected available in \d+ seconds?\.$/ })
  t.match(throttled.headers['retry-after'], /^\d+$/)
})

t.test('both profiles: a user with TOTP on gets the contract\'s mfa_required from login, and the second step answers as the contract does', async (t) => {
  for (const profile of ['camelcase', 'envelope']) {
    const { app } = await build(t, 'embedded', { API_PROFILE: profile })
    const username = uniqueName(profile)
    const registered = (await post(app, '/api/auth/register/', { username, email: `${username}@example.com`, password: PASSWORD })).json()
    const user = { email: `${username}@example.com`, access: (registered.content ?? registered).tokens.access as string }
    const at = 1_795_000_000_000
    app.mfa.now = () => at
    const { secret } = (await post(app, '/api/auth/mfa/totp/setup/', {}, user.access)).json()
    const code = (when: number) => TOTP.generate({ ...TOTP_PARAMS, secret: Secret.fromBase32(secret), timestamp: when })
    t.equal((await post(app, '/api/auth/mfa/totp/confirm/', { code: code(at) }, user.access)).statusCode, 200, profile)
    const first = await post(app, '/api/auth/login/', { email: user.email, password: PASSWORD })
    t.equal(first.statusCode, 200)
    t.same(Object.keys(first.json()).sort(), ['ephemeral_token', 'methods', 'mfa_required'], `${profile}: not reshaped`)
    app.mfa.now = () => at + 30_000
    const second = await post(app, '/api/auth/login/code/', { ephemeral_token: first.json().ephemeral_token, code: code(at + 30_000) })
    t.equal(second.statusCode, 200)
    t.ok(second.json().access)
    const wrong = await post(app, '/api/auth/login/code/', { ephemeral_token: first.json().ephemeral_token, code: '000000' })
    t.equal(wrong.statusCode, 400)
    t.ok(profile === 'camelcase' ? typeof wrong.json().error === 'string' : wrong.json() !== null, `${profile}: errors in its envelope`)
  }
})
