// The baseline of the benchmark: a minimal Fastify app doing only the raw work of each route the
// service benchmarks, so that service / baseline isolates what the service adds (validation,
// hooks, error mapping, serialization, logging, its own code) from the unavoidable cost
// (HTTP, JWT, Redis, bcrypt). Started by bench/run.ts as its own process; settings from the same
// environment as the service (plugins/app/config), so keys, lifetimes and bcrypt cost match.
//
// Per route, exactly the service's external work:
//   GET  /protected  HS256 verify + HEXISTS (RedisTokenStore.isSessionActive)
//   POST /verify     HS256 verify + HEXISTS
//   GET  /protected-jwt, POST /verify-jwt   the same without the store: HS256 verify only, the
//                    ceiling of a path that answers liveness from memory (issue 22)
//   POST /refresh    HS256 verify + one pipelined round trip (rotate + index scripts) + two signs
//   POST /login      SELECT user + bcrypt compare in the worker pool + UPDATE last_login
//                    + createSession (one pipelined round trip) + two signs
//   POST /session    bench only: a session without bcrypt, to give each connection its chain
// No schemas, no hooks, no logging. The token store class is used as is: it is only the Redis
// calls (its own JavaScript is a few lines per call).
import { availableParallelism } from 'node:os'
import Fastify from 'fastify'
import fastifyJwt from '@fastify/jwt'
import { Redis } from 'ioredis'
import pg from 'pg'
import { Piscina } from 'piscina'
import { loadConfig } from '../plugins/app/config/index.js'
import { newId } from '../plugins/app/ids.js'
import { RedisTokenStore } from '../plugins/app/token-store/index.js'
import { foldEmail } from '../plugins/app/users.js'
import { foldUsername } from '../plugins/app/usernames.js'
import { CLIENT_IP, USER_AGENT as BENCH_AGENT } from './agent.js'
import type { PasswordTask } from '../plugins/app/passwords/worker.js'

const config = loadConfig(process.env)
if (!config.redisUrl) throw new Error('baseline: REDIS_URL is required')

const redis = new Redis(config.redisUrl, { keyPrefix: config.redisKeyPrefix, maxRetriesPerRequest: 2 })
const store = new RedisTokenStore(redis, {
  accessTtl: config.accessTokenTtl,
  refreshTtl: config.refreshTokenTtl,
  sessionMaxAge: config.sessionMaxAge,
  reuseInterval: config.refreshReuseInterval
})
const db = config.databaseUrl ? new pg.Pool({ connectionString: config.databaseUrl, max: 10 }) : null
// The same worker module as the service (bcryptjs compareSync), one thread per core.
const threads = config.passwordWorkers ?? availableParallelism()
const pool = new Piscina<PasswordTask, boolean>({
  filename: new URL('../plugins/app/passwords/worker.js', import.meta.url).href,
  minThreads: threads,
  maxThreads: threads,
  idleTimeout: Infinity
})

const app = Fastify({ logger: false })
const { algorithm, signingKey } = config.jwt
await app.register(fastifyJwt, {
  secret: signingKey,
  sign: { algorithm, kid: 'baseline' },
  verify: { algorithms: [algorithm], requiredClaims: ['exp', 'iat', 'jti'] }
})

interface Claims {
  token_type: string
  user_id: string
  sid: string
  jti: string
}
const unauthorized = { detail: 'Token is invalid or expired', code: 'token_not_valid' }

function claimsOf (token: unknown): Claims | null {
  if (typeof token !== 'string') return null
  try {
    return app.jwt.verify<Claims>(token)
  } catch {
    return null
  }
}

function signPair (userId: string, sid: string, now: number, refresh: { jti: string; iat: number; exp: number }) {
  const nowS = Math.floor(now / 1000)
  return {
    access: app.jwt.sign({ token_type: 'access', user_id: userId, jti: newId(), sid, iat: nowS, exp: nowS + config.accessTokenTtl }),
    refresh: app.jwt.sign({ token_type: 'refresh', user_id: userId, jti: refresh.jti, sid, iat: refresh.iat, exp: refresh.exp })
  }
}

async function startSession (userId: string) {
  const now = Date.now()
  const sid = newId()
  const refresh = await store.createSession({ sid, userId, jti: newId(), now, ip: CLIENT_IP, userAgent: BENCH_AGENT })
  return signPair(userId, sid, now, refresh)
}

app.get('/protected', async (request, reply) => {
  const header = request.headers.authorization
  const claims = claimsOf(header?.startsWith('Bearer ') ? header.slice(7) : undefined)
  if (!claims || claims.token_type !== 'access' || !(await store.isSessionActive({ userId: claims.user_id, sid: claims.sid }))) return reply.code(401).send(unauthorized)
  return { message: 'You have accessed a protected route!' }
})

app.post('/verify', async (request, reply) => {
  const claims = claimsOf((request.body as { token?: unknown } | null)?.token)
  if (!claims || !(await store.isSessionActive({ userId: claims.user_id, sid: claims.sid }))) return reply.code(401).send(unauthorized)
  return {}
})

// The no-store ceiling: the JWT check and nothing else.
app.get('/protected-jwt', async (request, reply) => {
  const header = request.headers.authorization
  const claims = claimsOf(header?.startsWith('Bearer ') ? header.slice(7) : undefined)
  if (!claims || claims.token_type !== 'access') return reply.code(401).send(unauthorized)
  return { message: 'You have accessed a protected route!' }
})

app.post('/verify-jwt', async (request, reply) => {
  if (!claimsOf((request.body as { token?: unknown } | null)?.token)) return reply.code(401).send(unauthorized)
  return {}
})

app.post('/refresh', async (request, reply) => {
  const claims = claimsOf((request.body as { refresh?: unknown } | null)?.refresh)
  if (!claims || claims.token_type !== 'refresh') return reply.code(401).send(unauthorized)
  const now = Date.now()
  const result = await store.rotate({ sid: claims.sid, userId: claims.user_id, jti: claims.jti, newJti: newId(), now })
  if (result.status !== 'rotated' && result.status !== 'grace') return reply.code(401).send(unauthorized)
  return signPair(claims.user_id, claims.sid, now, result.refresh)
})

app.post('/login', async (request, reply) => {
  if (!db) return reply.code(503).send({ detail: 'no database' })
  const { username, password } = (request.body ?? {}) as { username?: string; password?: string }
  if (typeof username !== 'string' || typeof password !== 'string') return reply.code(400).send({})
  // The keys the service's user repository looks a login up by.
  const { rows } = await db.query<{ id: string; username: string; email: string; first_name: string; last_name: string; password_hash: string; is_active: boolean }>(
    'SELECT id, username, email, first_name, last_name, password_hash, is_active FROM users WHERE username_lower = $1 OR email_lower = $2 LIMIT 2',
    [foldUsername(username), foldEmail(username)]
  )
  const user = rows[0]
  const ok = await pool.run({ op: 'compare', password, hash: user?.password_hash ?? '$2b$12$' + 'x'.repeat(53) })
  if (!user || !ok || !user.is_active) return reply.code(401).send({ detail: 'Invalid credentials' })
  await db.query('UPDATE users SET last_login = now() WHERE id = $1', [user.id])
  const tokens = await startSession(user.id)
  return { ...tokens, user: { id: user.id, username: user.username, email: user.email, first_name: user.first_name, last_name: user.last_name } }
})

app.post('/session', async (request) => startSession(String((request.body as { user_id?: unknown } | null)?.user_id)))

app.addHook('onClose', async () => {
  await pool.destroy()
  await db?.end()
  await redis.quit()
})

await app.listen({ port: config.port, host: config.host })
const address = app.server.address()
// The parent reads this line for the port.
console.log(`BASELINE_LISTENING ${typeof address === 'object' && address ? address.port : config.port}`)

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    app.close().then(
      () => process.exit(0),
      () => process.exit(1)
    )
  })
}
