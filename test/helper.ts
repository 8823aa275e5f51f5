// Builds the app for tests, in either mode, with a database and Redis key prefix of the test's
// own, and offers the few calls most tests need (register, login, inject with a token).
import { createHmac, randomBytes } from 'node:crypto'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../plugins/app/config/index.js'
import { createTestDatabase, createTestDataDir } from './support/db.js'
import { redisEnv, testRedis, TOPOLOGIES, type Topology } from './support/redis.js'
import { installContractCheck } from './support/contract.js'
import { decodeSegment } from '../plugins/app/tokens.js'

/**
 * embedded: PGlite and the database token store. postgres: PostgreSQL and the shared single
 * Redis. cluster / sentinel: PostgreSQL and the run's Redis Cluster / Sentinel (topologies.ts).
 */
export type Mode = 'embedded' | 'postgres' | 'cluster' | 'sentinel'
/** Every mode this run has: the Cluster and Sentinel ones when tap started them. */
export const MODES: Mode[] = ['embedded', 'postgres', ...TOPOLOGIES.filter((t) => t !== 'single').map((t) => t as Mode)]
/** The Redis topology of a mode that has Redis. */
const topologyOf = (mode: Mode): Topology => (mode === 'postgres' ? 'single' : (mode as Topology))

/** The parts of a tap Test that the helper uses. */
interface TestLike {
  teardown(fn: () => unknown): void
}

export const TEST_SECRET = 'test-secret-that-is-at-least-32-bytes-long!!'

export interface TestApp {
  app: FastifyInstance
  mode: Mode
  env: Record<string, string>
  /** Every log line of the apps built here, parsed (none unless LOG_LEVEL is set above silent). */
  logs: Array<Record<string, unknown>>
  /** Builds a second app on the same database and token store (two instances behind a balancer). */
  twin(): Promise<FastifyInstance>
  /** Another app on the same resources with some settings changed; closed with the others. */
  variant(env: Record<string, string>): Promise<FastifyInstance>
}

/**
 * A ready app. embedded: PGlite in a temp dir + the database token store. Otherwise a fresh
 * PostgreSQL database + Redis (single, Cluster or Sentinel) with a random key prefix.
 * Everything is removed at teardown.
 */
export async function build (t: TestLike, mode: Mode = 'embedded', env: Record<string, string> = {}): Promise<TestApp> {
  const base: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    BCRYPT_COST: '4',
    PASSWORD_WORKERS: '1',
    JWT_SECRET: TEST_SECRET,
    RATE_LIMIT_ENABLED: 'false',
    // Register sends no verification e-mail unless a test asks (test/routes/auth/verification.test.ts).
    EMAIL_VERIFICATION: 'none'
  }
  // One teardown: apps first, then their database and Redis keys.
  const cleanups: Array<() => Promise<void>> = []
  const apps: FastifyInstance[] = []
  t.teardown(async () => {
    for (const a of apps.reverse()) await a.close()
    for (const c of cleanups) await c()
  })
  if (mode === 'embedded') {
    const data = await createTestDataDir()
    cleanups.push(() => data.cleanup())
    base.DATA_DIR = data.dir
  } else {
    const db = await createTestDatabase()
    const redis = await testRedis(undefined, topologyOf(mode))
    cleanups.push(() => redis.cleanup(), () => db.drop())
    base.DATABASE_URL = db.url
    Object.assign(base, redisEnv(redis.topology))
    base.REDIS_KEY_PREFIX = redis.prefix
    base.DATA_DIR = `/tmp/auth-test-${randomBytes(6).toString('hex')}`
  }
  const fullEnv = { ...base, ...env }
  const logs: Array<Record<string, unknown>> = []
  const stream = { write: (line: string) => { logs.push(JSON.parse(line) as Record<string, unknown>) } }
  const make = async (extra: Record<string, string> = {}) => {
    const app = await buildApp(loadConfig({ ...fullEnv, ...extra }), {}, stream)
    // Every response the tests receive is checked against the app's OpenAPI document.
    installContractCheck(app)
    apps.push(app)
    return app
  }
  const app = await make()
  return {
    app,
    mode,
    env: fullEnv,
    logs,
    twin: () => {
      if (mode === 'embedded') throw new Error('the embedded mode is single-instance')
      return make()
    },
    variant: (extra) => {
      if (mode === 'embedded') throw new Error('the embedded mode is single-instance')
      return make(extra)
    }
  }
}

let counter = 0
/** A username no other test uses. */
export const uniqueName = (prefix = 'user') => `${prefix}_${process.pid}_${Date.now().toString(36)}_${++counter}`

export const PASSWORD = 'Str0ng-Passphrase!'

export interface Registered {
  id: string
  username: string
  email: string
  password: string
  access: string
  refresh: string
}

export async function register (app: FastifyInstance, fields: Partial<Record<string, string>> = {}): Promise<Registered> {
  const username = fields.username ?? uniqueName()
  const body = { username, email: `${username}@example.com`, password: PASSWORD, ...fields }
  const res = await app.inject({ method: 'POST', url: '/api/auth/register/', payload: body })
  if (res.statusCode !== 201) throw new Error(`register failed: ${res.statusCode} ${res.body}`)
  const json = res.json()
  return { id: json.id, username: json.username, email: json.email, password: body.password!, access: json.tokens.access, refresh: json.tokens.refresh }
}

export async function login (app: FastifyInstance, username: string, password = PASSWORD) {
  const res = await app.inject({ method: 'POST', url: '/api/auth/login/', payload: { username, password } })
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`)
  return res.json() as { access: string; refresh: string; user: Record<string, string> }
}

export function post (app: FastifyInstance, url: string, payload: unknown, access?: string): Promise<LightMyRequestResponse> {
  const opts: InjectOptions = { method: 'POST', url, payload: payload as InjectOptions['payload'] }
  if (access) opts.headers = { authorization: `Bearer ${access}` }
  return app.inject(opts)
}

/** Any method, with an optional JSON body, access token and headers. */
export function call (
  app: FastifyInstance,
  method: InjectOptions['method'],
  url: string,
  { body, access, headers = {} }: { body?: unknown; access?: string; headers?: Record<string, string> } = {}
): Promise<LightMyRequestResponse> {
  return app.inject({
    method,
    url,
    ...(body === undefined ? {} : { payload: body as InjectOptions['payload'] }),
    headers: { ...headers, ...(access ? { authorization: `Bearer ${access}` } : {}) }
  })
}

export function get (app: FastifyInstance, url: string, access?: string): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'GET', url, ...(access ? { headers: { authorization: `Bearer ${access}` } } : {}) })
}

/** A JWT's payload, not verified (assertions on claims). */
export function claims (token: string): Record<string, unknown> {
  return decodeSegment(token, 1) ?? {}
}

/** A JWT's header, not verified. */
export function header (token: string): Record<string, unknown> {
  return decodeSegment(token, 0) ?? {}
}

/**
 * A token as anyone could make one: this header and these claims, HMAC-SHA256-signed with `secret`
 * whatever alg the header names (null: no signature, as alg none has). With the test secret and
 * a real token's header it passes, so a refusal of a changed one is for the change.
 */
export function forge (head: Record<string, unknown>, payload: Record<string, unknown>, secret: string | null = TEST_SECRET): string {
  const data = [head, payload].map((part) => Buffer.from(JSON.stringify(part)).toString('base64url')).join('.')
  return `${data}.${secret === null ? '' : createHmac('sha256', secret).update(data).digest('base64url')}`
}
