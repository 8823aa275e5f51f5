// Round trips per request, counted on the wire: a second service instance talks to Redis and to
// PostgreSQL through counting TCP proxies, and each route is called one request at a time (after
// a warm-up, so script loading and connection setup are not counted). A "round trip" is one
// write from the service that the server answers: with requests in sequence, the number of
// client->server chunks during a request. Redis pipelines are one write (one round trip).
import { createServer, connect, type Server, type Socket } from 'node:net'
import type { Child } from './processes.js'

export interface ProbeResult {
  /** Where the probed instance keeps its sessions. */
  tokenStore: 'redis' | 'database'
  requests: number
  /** Per route: the most round trips any single request made. */
  routes: Record<string, { redis: number; database: number; status: number }>
  targets: { refreshRedis: number; refreshDatabase: number; protectedRedis: number; protectedDatabase: number }
  pass: boolean
}

interface Counter {
  server: Server
  port: number
  writes: number
  close(): Promise<void>
}

async function countingProxy (upstream: URL): Promise<Counter> {
  const sockets = new Set<Socket>()
  const counter = { writes: 0 } as Counter
  const server = createServer((client) => {
    const remote = connect(Number(upstream.port), upstream.hostname)
    sockets.add(client).add(remote)
    client.on('data', (chunk) => {
      counter.writes++
      remote.write(chunk)
    })
    remote.on('data', (chunk) => client.write(chunk))
    const end = () => {
      client.destroy()
      remote.destroy()
    }
    client.on('close', end).on('error', end)
    remote.on('close', end).on('error', end)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  counter.server = server
  counter.port = (server.address() as { port: number }).port
  counter.close = () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    })
  return counter
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 30))

export async function probeRoundTrips (args: {
  tokenStore: 'redis' | 'database'
  start: (env: NodeJS.ProcessEnv) => Promise<Child>
  redisUrl: string
  databaseUrl: string
  users: Array<{ username: string; password: string }>
}): Promise<ProbeResult> {
  const redisUp = new URL(args.redisUrl)
  const dbUp = new URL(args.databaseUrl)
  const redis = await countingProxy(new URL(`redis://${redisUp.hostname}:${redisUp.port || 6379}`))
  const db = await countingProxy(new URL(`postgresql://${dbUp.hostname}:${dbUp.port || 5432}`))
  const redisUrl = new URL(args.redisUrl)
  redisUrl.hostname = '127.0.0.1'
  redisUrl.port = String(redis.port)
  const databaseUrl = new URL(args.databaseUrl)
  databaseUrl.hostname = '127.0.0.1'
  databaseUrl.port = String(db.port)
  let child: Child | null = null
  const N = 10
  try {
    child = await args.start({ REDIS_URL: redisUrl.toString(), DATABASE_URL: databaseUrl.toString(), TOKEN_STORE: args.tokenStore })
    const base = child.url
    const call = async (method: string, path: string, body?: unknown, token?: string) => {
      const res = await fetch(base + path, {
        method,
        headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {})
      })
      return { status: res.status, body: (await res.json()) as Record<string, string> }
    }
    const user = args.users[0]!
    const login = () => call('POST', '/api/auth/login/', { username: user.username, password: user.password })
    let pair = (await login()).body
    const routes: ProbeResult['routes'] = {}
    const measure = async (name: string, fn: () => Promise<{ status: number; body: Record<string, string> }>, times = N) => {
      const entry = { redis: 0, database: 0, status: 0 }
      // Two unmeasured calls first: script loading and lazily opened connections are not per request.
      for (let i = 0; i < times + 2; i++) {
        await settle()
        const r0 = redis.writes
        const d0 = db.writes
        const res = await fn()
        await settle()
        if (i >= 2) {
          entry.redis = Math.max(entry.redis, redis.writes - r0)
          entry.database = Math.max(entry.database, db.writes - d0)
          entry.status = res.status
        }
      }
      routes[name] = entry
    }
    await measure('protected', () => call('GET', '/api/protected-endpoint/', undefined, pair.access))
    await measure('verify', () => call('POST', '/api/token/verify/', { token: pair.access }))
    await measure('refresh', async () => {
      const res = await call('POST', '/api/token/refresh/', { refresh: pair.refresh })
      if (res.status === 200) pair = res.body
      return res
    })
    await measure('login', login, 2)
    // Redis store: a refresh is one Redis round trip and no query, a protected request one Redis
    // round trip. Database store: one statement each, and Redis not at all.
    const onRedis = args.tokenStore === 'redis'
    const targets = { refreshRedis: onRedis ? 1 : 0, refreshDatabase: onRedis ? 0 : 1, protectedRedis: onRedis ? 1 : 0, protectedDatabase: onRedis ? 0 : 1 }
    const pass =
      routes.refresh!.status === 200 &&
      routes.protected!.status === 200 &&
      routes.refresh!.redis === targets.refreshRedis &&
      routes.refresh!.database === targets.refreshDatabase &&
      routes.protected!.redis <= targets.protectedRedis &&
      routes.protected!.database <= targets.protectedDatabase
    return { tokenStore: args.tokenStore, requests: N, routes, targets, pass }
  } finally {
    await child?.stop()
    await redis.close()
    await db.close()
  }
}
