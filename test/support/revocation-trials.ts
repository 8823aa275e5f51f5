// Revocation stays immediate across instances with the liveness cache on. Two instances on one
// store (Redis; the database store on PostgreSQL; the Redis Cluster when this run has one): a
// session is cached as alive on instance B, revoked through instance A, and as soon as A answers,
// B is asked over its socket with that session's access token. Per store and per revocation
// source (logout, logout-all, a session revoked from the list, reuse detection, password change,
// password reset, account deletion, second factor turned off), TRIALS times: 0 accepted.
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { Secret, TOTP } from 'otpauth'
import { build, claims, login, PASSWORD, post, register, type Mode } from '../helper.js'
import { confirmed, liveness, overHttp, type Http } from './liveness.js'
import { TOTP_PARAMS } from '../../plugins/app/mfa/totp.js'
import { livenessKey } from '../../plugins/app/token-store/liveness/cache.js'
import type { LivenessCachedStore } from '../../plugins/app/token-store/liveness/cached-store.js'

const TRIALS = Number(process.env.LIVENESS_TRIALS ?? 1_000)

interface Trial {
  /** The access token B must refuse once `revoke` answered. */
  access: string
  /** The revocation, through A; resolves with A's status. */
  revoke: (A: Http) => Promise<number>
}

/** A source of revocations: `prepare` once, then a trial of its own each time. */
interface Source {
  name: string
  expected: number
  /** Fewer trials for the sources that hash passwords several times per trial. */
  trials: number
  trial: (app: FastifyInstance, state: Record<string, unknown>) => Promise<Trial>
}

/** Trials run in this many loops at once, each with a user of its own. */
const LOOPS = 4
/** The reset links mailed, by address. */
const mailWaiters = new Map<string, (link: string) => void>()

const STEP = 30_000
const codeAt = (secret: string, at: number) => TOTP.generate({ ...TOTP_PARAMS, secret: Secret.fromBase32(secret), timestamp: at })

const SOURCES: Source[] = [
  {
    name: 'logout',
    expected: 200,
    trials: TRIALS,
    async trial (app, state) {
      const { access, refresh } = await login(app, state.username as string)
      return { access, revoke: async (A) => (await A('POST', '/api/auth/logout/', { access, body: { refresh } })).status }
    }
  },
  {
    name: 'logout-all',
    expected: 200,
    trials: TRIALS,
    async trial (app, state) {
      const { access } = await login(app, state.username as string)
      return { access, revoke: async (A) => (await A('POST', '/api/auth/logout/all/', { access })).status }
    }
  },
  {
    name: 'a session revoked from the list',
    expected: 204,
    trials: TRIALS,
    async trial (app, state) {
      const { access } = await login(app, state.username as string)
      const actor = state.actor as string
      return { access, revoke: async (A) => (await A('DELETE', `/api/auth/sessions/${String(claims(access).sid)}/`, { access: actor })).status }
    }
  },
  {
    name: 'reuse detection',
    expected: 401,
    trials: TRIALS,
    async trial (app, state) {
      const { access, refresh } = await login(app, state.username as string)
      const rotated = await post(app, '/api/token/refresh/', { refresh })
      if (rotated.statusCode !== 200) throw new Error(`rotation: ${rotated.body}`)
      return { access, revoke: async (A) => (await A('POST', '/api/token/refresh/', { body: { refresh } })).status }
    }
  },
  {
    name: 'password change',
    expected: 200,
    trials: TRIALS,
    async trial (app, state) {
      const { access } = await login(app, state.username as string, state.password as string)
      const next = state.password === PASSWORD ? 'An0ther-Passphrase!' : PASSWORD
      const old = state.password as string
      state.password = next
      const body = { old_password: old, new_password1: next, new_password2: next }
      return { access, revoke: async (A) => (await A('POST', '/api/auth/password/change/', { access: state.actor as string, body })).status }
    }
  },
  {
    name: 'password reset',
    expected: 200,
    trials: TRIALS,
    async trial (app, state) {
      const { access } = await login(app, state.username as string, state.password as string)
      const sent = new Promise<string>((resolve) => {
        mailWaiters.set(state.email as string, resolve)
      })
      const asked = await post(app, '/api/auth/password/reset/', { email: state.email })
      if (asked.statusCode !== 200) throw new Error(`reset: ${asked.body}`)
      const link = new URL(await sent)
      const next = state.password === PASSWORD ? 'An0ther-Passphrase!' : PASSWORD
      state.password = next
      const body = { uid: link.searchParams.get('uid'), token: link.searchParams.get('token'), new_password1: next, new_password2: next }
      return { access, revoke: async (A) => (await A('POST', '/api/auth/password/reset/confirm/', { body })).status }
    }
  },
  {
    name: 'account deletion',
    expected: 204,
    trials: TRIALS,
    async trial (app) {
      const user = await register(app)
      return { access: user.access, revoke: async (A) => (await A('DELETE', '/api/auth/me/', { access: user.access, body: { password: PASSWORD } })).status }
    }
  },
  {
    name: 'second factor turned off',
    expected: 200,
    // Turning it on hashes ten recovery codes (scrypt): a quarter of a second per trial.
    trials: Math.ceil(TRIALS / 10),
    async trial (app) {
      // A session from before the second factor, and one that turns it off (every other ends).
      const user = await register(app)
      const { access } = await login(app, user.username)
      const at = Math.floor(Date.now() / STEP) * STEP + 15_000
      app.mfa.now = () => at
      const setup = await post(app, '/api/auth/mfa/totp/setup/', {}, user.access)
      const { secret } = setup.json() as { secret: string }
      const confirm = await post(app, '/api/auth/mfa/totp/confirm/', { code: codeAt(secret, at - STEP) }, user.access)
      if (confirm.statusCode !== 200) throw new Error(`confirm: ${confirm.body}`)
      const body = { password: PASSWORD, code: codeAt(secret, at) }
      return { access, revoke: async (A) => (await A('POST', '/api/auth/mfa/totp/disable/', { access: user.access, body })).status }
    }
  }
]

/**
 * The margin by which B's copy of each revocation beat A's answer to the client (ms): the
 * minimum, median, 1st percentile and how many were not ahead (the window a client could use).
 */
function describeLeads (leads: number[]): string {
  const sorted = [...leads].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(2)
  const behind = sorted.filter((l) => l <= 0).length
  return `B applied the notice before A's answer reached the client by ${at(0)} ms at least, ${at(0.01)} ms at the 1st percentile, ${at(0.5)} ms at the median; not ahead: ${behind}`
}

/** The trials on one store: `mode` and `env` as build() takes them. */
export async function revocationTrials (t: Test, store: { name: string; mode: Mode; env: Record<string, string> }) {
  t.setTimeout(600_000)
  await t.test(`${store.name}: revoked through A, refused by B at once`, async (t) => {
    // Reuse is reuse at once (no grace interval); the TOTP clock is the one a trial sets.
    const { app: appA, twin } = await build(t, store.mode, { ...store.env, REFRESH_REUSE_INTERVAL: '0' })
    const appB = await twin()
    const [A, B] = [await overHttp(appA), await overHttp(appB)]
    await Promise.all([confirmed(appA), confirmed(appB)])
    appA.mail.send = async (_kind, to, vars) => {
      mailWaiters.get(to)?.(String(vars.link))
      return true
    }
    // When B's cache dropped each session (performance.now(), the same clock as the test's):
    // how long before A's answer reached the client B had applied the store's notice.
    const cacheB = (appB.tokenStore as LivenessCachedStore).cache
    const dropped = new Map<string, number[]>()
    const invalidate = cacheB.invalidate.bind(cacheB)
    cacheB.invalidate = (key) => {
      dropped.get(key)?.push(performance.now()) ?? dropped.set(key, [performance.now()])
      invalidate(key)
    }
    const leads: number[] = []
    for (const source of SOURCES) {
      const before = await liveness(appB)
      const first = leads.length
      let accepted = 0
      let unexpected = 0
      const started = Date.now()
      const loop = async (trials: number) => {
        // A user of the loop's own (logout-all would end another loop's acting session).
        const user = await register(appA)
        const state: Record<string, unknown> = { username: user.username, email: user.email, password: PASSWORD, actor: user.access }
        for (let i = 0; i < trials; i++) {
          const trial = await source.trial(appA, state)
          // B has the session cached as alive (the first call fills, the second is answered from memory).
          for (let k = 0; k < 2; k++) if ((await B('GET', '/api/auth/me/', { access: trial.access })).status !== 200) unexpected++
          const key = livenessKey({ userId: String(claims(trial.access).user_id), sid: String(claims(trial.access).sid) })
          const sent = performance.now()
          if ((await trial.revoke(A)) !== source.expected) unexpected++
          const answered = performance.now()
          // As soon as A answered: B.
          if ((await B('GET', '/api/auth/me/', { access: trial.access })).status !== 401) accepted++
          const at = dropped.get(key)?.find((t) => t >= sent)
          // A notice B applied only after A's answer counts as a lead of 0 or less.
          leads.push(at === undefined ? -Infinity : answered - at)
          dropped.delete(key)
        }
      }
      await Promise.all(Array.from({ length: LOOPS }, (_, i) => loop(Math.floor(source.trials / LOOPS) + (i < source.trials % LOOPS ? 1 : 0))))
      const after = await liveness(appB)
      t.equal(unexpected, 0, `${source.name}: every set-up call and revocation answered as expected`)
      t.equal(accepted, 0, `${source.name}: ${source.trials} revocations through A, ${accepted} accepted by B`)
      // Not vacuous: B answered from memory and dropped entries on the store's notices.
      t.ok(after.hit - before.hit >= source.trials, `${source.name}: B answered ${after.hit - before.hit} checks from memory`)
      t.ok(after.invalidations - before.invalidations >= source.trials, `${source.name}: B dropped ${after.invalidations - before.invalidations} entries on notices`)
      t.comment(`${store.name}, ${source.name}: ${source.trials} trials in ${Date.now() - started} ms, ${accepted} of ${source.trials} accepted, B: ${JSON.stringify({ hits: after.hit - before.hit, misses: after.miss - before.miss, bypassed: after.bypass - before.bypass, flushes: after.flushes - before.flushes })}, ${describeLeads(leads.slice(first))}`)
    }
    t.comment(`${store.name}, all sources: ${describeLeads(leads)}`)
  })
}
