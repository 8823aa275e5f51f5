// Starts the service and stops it cleanly on SIGINT/SIGTERM. Everything else is in app.ts.
import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { ConfigError, loadConfig } from '../plugins/app/config/index.js'

let config
try {
  config = loadConfig()
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`Configuration error: ${err.message}`)
    process.exit(1)
  }
  throw err
}

const app = await buildApp(config)
closeWithGrace({ delay: 10_000 }, async ({ err }) => {
  if (err) app.log.error({ err }, 'closing because of an error')
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
const mode = `${config.databaseUrl ? 'PostgreSQL' : `embedded PGlite in ${config.dataDir}`}, ${config.redisUrl ? 'Redis token store' : 'in-process token store'}`
// Printed plainly (not only as a log line) so a person starting it sees where to go.
console.log(`\nAuth service listening on ${base}  (${mode})\n  API docs: ${base}/docs\n  OpenAPI:  ${base}/openapi.json\n`)
