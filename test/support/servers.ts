// Servers of a test's own, for fault tests: a redis-server or a PostgreSQL cluster on a spare
// port, started as child processes of the test, stopped, frozen (SIGSTOP) and restarted by their
// pid only. The shared PostgreSQL and Redis of the machine are never touched. Every server is
// killed when the test ends, and when the process exits, even after a failure.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** A TCP port nobody listens on right now. */
export function sparePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

// A signal goes to the server and every process it started: PostgreSQL serves each connection
// from a process of its own, so freezing the postmaster alone would freeze nothing in use.
const live = new Set<ChildProcess>()
function family (pid: number): number[] {
  let children: number[] = []
  try {
    children = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number)
  } catch {
    // no children (pgrep exits 1)
  }
  return [pid, ...children.flatMap(family)]
}
const signal = (child: ChildProcess | undefined, sig: NodeJS.Signals) => {
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return
  for (const pid of family(child.pid)) {
    try {
      process.kill(pid, sig)
    } catch {
      // already gone
    }
  }
}
process.once('exit', () => {
  for (const child of live) signal(child, 'SIGKILL')
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `ok` every 50 ms until it holds, for at most `ms`. */
export async function until (what: string, ok: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await ok().catch(() => false)) return
    await sleep(50)
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** A server process of the test's own. */
export interface OwnServer {
  port: number
  url: string
  /** The process's pid (changes on restart). */
  readonly pid: number | undefined
  /** SIGKILL: a crash. */
  kill(): Promise<void>
  /** A clean stop (its own shutdown signal), keeping the data. */
  stop(): Promise<void>
  /** Starts it again on the same port and data. */
  start(): Promise<void>
  /** SIGSTOP / SIGCONT: a server that hangs without closing its connections. */
  freeze(): void
  thaw(): void
  /** Stops it for good and removes its data. */
  destroy(): Promise<void>
}

function ownServer (opts: {
  port: number
  url: string
  dir: string
  spawn(): ChildProcess
  ready(): Promise<boolean>
  /** A clean stop (the process's own signal). */
  stopSignal?: NodeJS.Signals
}): OwnServer {
  let child: ChildProcess | undefined
  const exited = (c: ChildProcess) => new Promise<void>((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve())))
  const server: OwnServer = {
    port: opts.port,
    url: opts.url,
    get pid () {
      return child?.pid
    },
    async start () {
      const c = opts.spawn()
      child = c
      live.add(c)
      c.once('exit', () => live.delete(c))
      await until(`the server on port ${opts.port}`, async () => {
        if (c.exitCode !== null) throw new Error(`server on port ${opts.port} exited with ${c.exitCode}`)
        return opts.ready()
      })
    },
    async kill () {
      const c = child
      if (!c) return
      signal(c, 'SIGCONT')
      signal(c, 'SIGKILL')
      await exited(c)
    },
    async stop () {
      const c = child
      if (!c || c.exitCode !== null || c.signalCode !== null) return
      signal(c, 'SIGCONT')
      c.kill(opts.stopSignal ?? 'SIGTERM')
      await exited(c)
    },
    freeze () {
      signal(child, 'SIGSTOP')
    },
    thaw () {
      signal(child, 'SIGCONT')
    },
    async destroy () {
      const c = child
      if (c && c.exitCode === null && c.signalCode === null) {
        await Promise.race([server.stop(), sleep(5_000)])
        if (c.exitCode === null && c.signalCode === null) signal(c, 'SIGKILL')
        await exited(c)
      }
      await rm(opts.dir, { recursive: true, force: true })
    }
  }
  return server
}

/**
 * A redis-server of the test's own on a spare port, appendonly (everysec) in a temp dir unless
 * `args` say otherwise. `args` are redis-server options, e.g. ['--maxmemory-policy', 'allkeys-lru'].
 */
export async function startRedis (args: string[] = [], port?: number): Promise<OwnServer> {
  port ??= await sparePort()
  const dir = await mkdtemp(join(tmpdir(), 'auth-test-redis-'))
  const cli = (...a: string[]) => run('redis-cli', ['-p', String(port), ...a], { timeout: 2_000 })
  const server = ownServer({
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    spawn: () =>
      spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', ...args],
        { stdio: 'ignore' }
      ),
    ready: async () => (await cli('ping')).stdout.trim() === 'PONG' && !(await cli('info', 'persistence')).stdout.includes('loading:1')
  })
  await server.start()
  return server
}

/** A spare port whose Cluster bus port (port + 10000) is spare too. */
async function sparePortWithBus (): Promise<number> {
  for (;;) {
    const port = await sparePort()
    if (port + 10_000 > 65_535) continue
    const bus = await new Promise<boolean>((resolve) => {
      const server = createServer()
      server.unref()
      server.once('error', () => resolve(false))
      server.listen(port + 10_000, '127.0.0.1', () => server.close(() => resolve(true)))
    })
    if (bus) return port
  }
}

export interface OwnCluster {
  /** The masters, by port. */
  nodes: OwnServer[]
  /** REDIS_CLUSTER_NODES for them. */
  seeds: string
  destroy(): Promise<void>
}

/**
 * A Redis Cluster of the test's own: `masters` redis-servers (no replicas) joined with
 * `redis-cli --cluster create`, ready when every node reports cluster_state:ok.
 */
export async function startRedisCluster (masters = 3): Promise<OwnCluster> {
  const nodes: OwnServer[] = []
  const cluster: OwnCluster = {
    nodes,
    seeds: '',
    async destroy () {
      await Promise.all(nodes.map((n) => n.destroy()))
    }
  }
  try {
    for (let i = 0; i < masters; i++) {
      const port = await sparePortWithBus()
      nodes.push(
        await startRedis(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000', '--appendonly', 'no'], port)
      )
    }
    const addresses = nodes.map((n) => `127.0.0.1:${n.port}`)
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 })
    for (const n of nodes) {
      await until(`cluster node ${n.port}`, async () => {
        const info = (await run('redis-cli', ['-p', String(n.port), 'cluster', 'info'], { timeout: 2_000 })).stdout
        return info.includes('cluster_state:ok') && /cluster_known_nodes:(\d+)/.exec(info)?.[1] === String(masters)
      })
    }
    cluster.seeds = addresses.join(',')
    return cluster
  } catch (err) {
    await cluster.destroy()
    throw err
  }
}

export interface OwnSentinel {
  master: OwnServer
  replica: OwnServer
  sentinel: OwnServer
  /** REDIS_SENTINELS and REDIS_SENTINEL_NAME for them. */
  sentinels: string
  name: string
  /** The port of the master the sentinel names now. */
  masterPort(): Promise<number>
  destroy(): Promise<void>
}

/**
 * A master, its replica and a Sentinel watching them (quorum 1, down-after 1 s, failover-timeout
 * 5 s), all of the test's own, the two Redis with `redisArgs`; ready when the sentinel knows the
 * replica as a healthy one (so a failover can promote it).
 */
export async function startRedisSentinel (name = 'authmaster', redisArgs?: string[]): Promise<OwnSentinel> {
  const started: OwnServer[] = []
  const destroy = async () => {
    await Promise.all(started.map((s) => s.destroy()))
  }
  try {
    // By default (`redisArgs` replace it): a master with no replica in sync refuses writes
    // (NOREPLICAS), the strictest setting the README describes; and a replica (re)syncing starts
    // at once (by default a master waits 5 s for more replicas first).
    const sync = redisArgs ?? ['--appendonly', 'no', '--repl-diskless-sync-delay', '0', '--min-replicas-to-write', '1', '--min-replicas-max-lag', '2']
    const master = await startRedis(sync)
    started.push(master)
    const replica = await startRedis([...sync, '--replicaof', '127.0.0.1', String(master.port)])
    started.push(replica)
    const port = await sparePort()
    const dir = await mkdtemp(join(tmpdir(), 'auth-test-sentinel-'))
    const conf = join(dir, 'sentinel.conf')
    // The sentinel rewrites its file: it must be its own and writable.
    await writeFile(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${master.port} 1`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 5000`,
        `sentinel parallel-syncs ${name} 1`,
        ''
      ].join('\n')
    )
    const cli = (...a: string[]) => run('redis-cli', ['-p', String(port), ...a], { timeout: 2_000 })
    const sentinel = ownServer({
      port,
      url: `redis://127.0.0.1:${port}`,
      dir,
      spawn: () => spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' }),
      ready: async () => (await cli('ping')).stdout.trim() === 'PONG'
    })
    await sentinel.start()
    started.push(sentinel)
    await until('the sentinel to see a healthy replica', async () => {
      const out = (await cli('sentinel', 'replicas', name)).stdout
      return out.includes(String(replica.port)) && !/s_down|disconnected/.test(out) && /master-link-status\s+ok/.test(out)
    }, 30_000)
    const own: OwnSentinel = {
      master,
      replica,
      sentinel,
      sentinels: `127.0.0.1:${port}`,
      name,
      masterPort: async () => Number((await cli('sentinel', 'get-master-addr-by-name', name)).stdout.trim().split('\n')[1]),
      destroy
    }
    return own
  } catch (err) {
    await destroy()
    throw err
  }
}

/** The PostgreSQL server binaries (Debian keeps them per major version). */
function pgBin (name: string): string {
  const base = '/usr/lib/postgresql'
  const versions = existsSync(base) ? readdirSync(base).sort((a, b) => Number(b) - Number(a)) : []
  for (const v of versions) if (existsSync(join(base, v, 'bin', name))) return join(base, v, 'bin', name)
  return name
}

/**
 * A PostgreSQL cluster of the test's own: initdb into a temp dir (trust auth, user postgres), the
 * postmaster on a spare port as the `postgres` system user (it refuses to run as root), and a
 * database `test`. `url` names that database.
 */
export async function startPostgres (): Promise<OwnServer> {
  const port = await sparePort()
  const dir = await mkdtemp(join(tmpdir(), 'auth-test-pg-'))
  const { stdout: ids } = await run('id', ['-u', 'postgres']).then(async (u) => ({ stdout: `${u.stdout.trim()}:${(await run('id', ['-g', 'postgres'])).stdout.trim()}` }))
  const [uid, gid] = ids.split(':').map(Number) as [number, number]
  await chown(dir, uid, gid)
  const data = join(dir, 'data')
  const asPostgres = { uid, gid, env: { ...process.env, LC_ALL: 'C' } }
  await run(pgBin('initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'], asPostgres)
  const psql = (sql: string, db = 'postgres') =>
    run('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', db, '-Atc', sql], { timeout: 3_000 })
  const server = ownServer({
    port,
    url: `postgresql://postgres@127.0.0.1:${port}/test`,
    dir,
    spawn: () =>
      spawn(pgBin('postgres'), ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'], {
        ...asPostgres,
        stdio: 'ignore'
      }),
    ready: async () => (await psql('SELECT 1')).stdout.trim() === '1',
    // SIGINT: PostgreSQL's fast shutdown.
    stopSignal: 'SIGINT'
  })
  await server.start()
  await psql('CREATE DATABASE test')
  return server
}

/** Calls `call` until its answer is not a 503 (a dependency coming back), for at most `ms`; the last answer. */
export async function onceBack<T extends { statusCode: number }> (call: () => Promise<T>, ms = 5_000): Promise<T> {
  const end = Date.now() + ms
  let res = await call()
  while (res.statusCode === 503 && Date.now() < end) {
    await sleep(100)
    res = await call()
  }
  return res
}
