// Starts the service and stops it cleanly on SIGINT/SIGTERM. Everything else is in app.ts.
import closeWithGrace from 'close-with-grace'
import type { ServerResponse } from 'node:http'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import pino from 'pino'
import { buildApp } from './app.js'
import { ConfigError, loadConfig, loadEnvFile, type Config } from '../plugins/app/config/index.js'

let config: Config
let envFile: string | null
/** A port free on `host` now (PORT=0): taken before the config, so that PUBLIC_URL's default names it. */
const freePort = (host: string) =>
  new Promise<number>((resolve, reject) => {
    const probe = createServer().on('error', reject)
    probe.listen(0, host, () => {
      const { port } = probe.address() as AddressInfo
      probe.close(() => resolve(port))
    })
  })

try {
  envFile = loadEnvFile()
  if (process.env.PORT === '0' && process.env.PUBLIC_URL === undefined) process.env.PORT = String(await freePort(process.env.HOST ?? '127.0.0.1'))
  config = loadConfig()
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`Configuration error: ${err.message}`)
    process.exit(1)
  }
  throw err
}

let app: FastifyInstance
try {
  // Log lines are written asynchronously, in batches: a write once 4 KB have gathered, and
  // every 100 ms whatever is waiting (pino flushes what is left on exit). A line
  // costs no blocking write on the request path, and under load (the audit line of every refresh)
  // one write carries a dozen lines instead of one or two: refresh's throughput rose 4-5 %.
  app = await buildApp(config, {}, pino.destination({ sync: false, minLength: 4096, periodicFlush: 100 }))
} catch (err) {
  // A refusal at start (an evicting Redis, a data folder in use): the reason, not a stack.
  console.error(`Could not start: ${(err as Error).message}`)
  process.exit(1)
}

// The open connections. Fastify marks Connection: close only on the requests it routes once
// close() has begun; one already in its handler would be answered keep-alive, and its client
// could send its next request into a socket that is about to close. Tracked per connection, not
// per request, so that nothing is added to the hot paths.
const connections = new Set<Socket>()
app.server.on('connection', (socket: Socket) => {
  connections.add(socket)
  socket.once('close', () => connections.delete(socket))
})
/** The response a connection is writing now: Node's own link from a socket to it (as http-terminator reads it). */
const responseOf = (socket: Socket) => (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage ?? null

// SIGTERM / SIGINT: stop accepting, answer what is in flight (Connection: close), close idle
// sockets, run the plugins' onClose hooks, exit 0. After SHUTDOWN_TIMEOUT the process exits 1
// whatever is left.
closeWithGrace({ delay: config.timeouts.shutdown }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'closing because of an error')
  else app.log.info({ signal }, 'shutting down: draining requests in flight')
  for (const socket of connections) {
    const res = responseOf(socket)
    if (res && !res.headersSent) res.setHeader('connection', 'close')
  }
  await app.close()
})

try {
  await app.listen({ port: config.port, host: config.host })
} catch (err) {
  app.log.error({ err }, 'could not listen')
  process.exit(1)
}
const address = app.server.address()
const port = typeof address === 'object' && address ? address.port : config.port
const base = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`
const database = config.databaseUrl ? 'PostgreSQL' : `embedded PGlite in ${config.dataDir}`
const mode = `${database}, sessions in ${config.tokenStore === 'redis' ? 'Redis' : 'the database'}`
// Printed plainly (not only as a log line) so a person starting it sees where to go.
const settings = envFile ? `  Settings: environment, then ${envFile}\n` : ''
const account = config.accountPages ? `  Account:  ${config.web.publicUrl}/account/\n` : ''
console.log(`\nAuth service listening on ${base}  (${mode})\n${settings}  API docs: ${base}/docs\n  OpenAPI:  ${base}/openapi.json\n${account}`)
