// Prisma's schema engine (the code behind `prisma migrate deploy` and `prisma migrate diff`),
// run as WebAssembly over a driver adapter because the native engine cannot be installed here.
// The package's own entry imports its .wasm file as an ES module, which Node 20 only allows
// behind --experimental-wasm-modules, so the module is instantiated here by hand instead.
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import * as bindings from '@prisma/schema-engine-wasm/schema_engine_bg'
import type { SchemaEngine as SchemaEngineType } from '@prisma/schema-engine-wasm'
import {
  bindMigrationAwareSqlAdapterFactory,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory
} from '@prisma/driver-adapter-utils'

export type SchemaEngine = SchemaEngineType
export type { MigrationList } from '@prisma/schema-engine-wasm'

// tsconfig's lib has no WebAssembly types (no DOM); the little used here is typed by hand.
type WasmExports = Record<string, unknown>
type WasmImports = Record<string, unknown>
const { WebAssembly: wasmApi } = globalThis as unknown as {
  WebAssembly: { instantiate(bytes: Uint8Array, imports: Record<string, WasmImports>): Promise<{ instance: { exports: WasmExports } }> }
}

interface WasmBindings {
  __wbg_set_wasm(exports: WasmExports): void
  SchemaEngine: {
    new: (options: { datamodels: [string, string][] | undefined }, log: (line: string) => void, adapter: object) => Promise<SchemaEngine>
  }
}

// The wasm-bindgen glue keeps its instance in module state, so there can only be one per
// process; it is loaded lazily, once, and shared by every engine (engines are cheap).
let loading: Promise<WasmBindings> | undefined

function loadBindings (): Promise<WasmBindings> {
  loading ??= (async () => {
    const require = createRequire(import.meta.url)
    const glueFile = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg')
    const bytes = await readFile(join(dirname(glueFile), 'schema_engine_bg.wasm'))
    const glue = bindings as unknown as WasmBindings & Record<string, unknown>
    // The engine races its database calls against timers it never clears (lock timeouts);
    // unref them so a finished script or test can exit at once instead of 10 s later.
    const imports: WasmImports = { ...glue }
    for (const key of Object.keys(imports)) {
      if (key.startsWith('__wbg_setTimeout_')) {
        imports[key] = (fn: () => void, ms: number) => setTimeout(fn, ms >>> 0).unref()
      }
    }
    const { instance } = await wasmApi.instantiate(bytes, { './schema_engine_bg.js': imports })
    glue.__wbg_set_wasm(instance.exports)
    ;(instance.exports.__wbindgen_start as () => void)()
    return glue
  })()
  loading.catch(() => {
    loading = undefined
  })
  return loading
}

export interface EngineOptions {
  /** Prisma schema files [path, content], when the operation needs the datamodel. */
  datamodels?: [string, string][]
  /** Receives the engine's log lines (JSON strings). Default: ignored. */
  log?: (line: string) => void
}

/**
 * Runs fn with a schema engine connected through the given adapter factory (e.g. PrismaPg or
 * PrismaPGlite); the engine is freed afterwards. Shadow databases, for diffs from a migrations
 * folder, come from the factory's connectToShadowDb().
 */
export async function withSchemaEngine<T> (
  adapterFactory: SqlMigrationAwareDriverAdapterFactory,
  fn: (engine: SchemaEngine) => Promise<T>,
  options: EngineOptions = {}
): Promise<T> {
  const glue = await loadBindings()
  // The engine never disposes the connections it opens (a pg pool would keep the process
  // alive), so they are tracked here and disposed when the engine is done.
  const opened: SqlDriverAdapter[] = []
  const tracking: SqlMigrationAwareDriverAdapterFactory = {
    provider: adapterFactory.provider,
    adapterName: adapterFactory.adapterName,
    connect: async () => track(await adapterFactory.connect()),
    connectToShadowDb: async () => track(await adapterFactory.connectToShadowDb())
  }
  const track = (adapter: SqlDriverAdapter) => {
    opened.push(adapter)
    return adapter
  }
  let engine: SchemaEngine | undefined
  try {
    engine = await glue.SchemaEngine.new(
      { datamodels: options.datamodels },
      options.log ?? (() => {}),
      bindMigrationAwareSqlAdapterFactory(tracking)
    )
    return await fn(engine)
  } catch (err) {
    throw toError(err)
  } finally {
    engine?.free()
    await Promise.allSettled(opened.map((a) => a.dispose()))
  }
}

// The engine rejects with plain objects or JSON strings ({ message, error_code, ... }).
function toError (err: unknown): Error {
  if (err instanceof Error) return err
  let detail: unknown = err
  if (typeof err === 'string') {
    try {
      detail = JSON.parse(err)
    } catch {
      return new Error(err)
    }
  }
  const message =
    detail && typeof detail === 'object' && 'message' in detail ? String((detail as { message: unknown }).message) : JSON.stringify(detail)
  return Object.assign(new Error(`schema engine: ${message}`), { detail })
}
