// A bare Fastify with only the plugins a plugin's test needs, registered in order as the app does:
// the plugin under test meets its real dependencies (or stand-ins made by `stub`) and nothing else.
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyPluginCallback } from 'fastify'
import fp from 'fastify-plugin'

// any: each plugin has options of its own.
type Plugin = FastifyPluginAsync<any> | FastifyPluginCallback<any>
/** A plugin, or a plugin and its options. */
export type PluginEntry = Plugin | [Plugin, object]

export type LogLine = Record<string, unknown> & { level: number; msg: string }

/** The parts of a tap Test that withPlugins uses. */
interface TestLike {
  teardown(fn: () => unknown): void
}

/**
 * The plugins registered in order on a new Fastify, ready. With `logLevel`, the lines from that
 * level up are parsed into `logs`; without, nothing is logged. A refused start closes what did
 * open (a Redis client, an embedded database) before it throws; a started app is closed at `t`'s
 * teardown (closing it earlier is fine), or by the caller when `t` is null.
 */
export async function withPlugins (
  t: TestLike | null,
  plugins: PluginEntry[],
  { logLevel }: { logLevel?: string } = {}
): Promise<{ app: FastifyInstance; logs: LogLine[] }> {
  const logs: LogLine[] = []
  const stream = { write: (line: string) => { logs.push(JSON.parse(line) as LogLine) } }
  const app = Fastify({ logger: logLevel ? { level: logLevel, stream } : false })
  try {
    for (const entry of plugins) {
      const [plugin, options] = Array.isArray(entry) ? entry : [entry, {}]
      await app.register(plugin, options)
    }
    await app.ready()
  } catch (err) {
    await app.close().catch(() => {})
    throw err
  }
  t?.teardown(() => app.close())
  return { app, logs }
}

/** A stand-in for a plugin that the one under test depends on: decorates `name` with `value`. */
export const stub = (name: string, value: unknown) => fp(async (f) => { f.decorate(name, value) }, { name })
