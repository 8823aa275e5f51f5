// Child processes of the benchmark (the service, the baseline, the migration): each is compiled
// JS from dist/ run by this same node, on 127.0.0.1 and a port the OS picks. Their errors go to
// a log file next to the results, so a failure can be read after the run.
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, createWriteStream, openSync, type WriteStream } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'

export interface Child {
  name: string
  url: string
  pid: number
  stop(): Promise<void>
}

/** A free port on 127.0.0.1 (the OS picks it; it is released just before the child binds it). */
export function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/**
 * Starts `node script` with PORT set to a free port and resolves once it answers HTTP on it.
 * stderr goes straight into the log file, and stdout too unless `quiet`: then to /dev/null, as
 * request logs at info would otherwise write hundreds of MB per run. No pipe through this
 * process, which also runs the load generator and must not pay for the child's output.
 */
export async function startChild (name: string, script: string, env: NodeJS.ProcessEnv, logPath: string, quiet: boolean, timeoutMs = 60_000): Promise<Child> {
  const port = await freePort()
  const err = openSync(logPath, 'a')
  const out = quiet ? openSync('/dev/null', 'a') : err
  const child = spawn(process.execPath, [...(process.env.BENCH_NODE_OPTIONS?.split(' ').filter(Boolean) ?? []), script], {
    env: { ...env, PORT: String(port) },
    stdio: ['ignore', out, err]
  })
  closeSync(err)
  if (out !== err) closeSync(out)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${name} exited early (code ${child.exitCode}, signal ${child.signalCode}); see ${logPath}`)
    }
    // Any HTTP answer (a 404 too) means it listens.
    const up = await fetch(`${url}/health/live`).then(
      () => true,
      () => false
    )
    if (up) return { name, url, pid: child.pid!, stop: () => stopChild(child, exited) }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  child.kill('SIGKILL')
  throw new Error(`${name}: not answering after ${timeoutMs / 1000} s; see ${logPath}`)
}

async function stopChild (child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
  await exited
  clearTimeout(timer)
}

/** Runs `node script args` to completion; rejects on a non-zero exit. */
export function runNode (name: string, script: string, args: string[], env: NodeJS.ProcessEnv, log: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout.on('data', (chunk: Buffer) => log.write(`[${name}] ${chunk}`))
    child.stderr.on('data', (chunk: Buffer) => log.write(`[${name}] ${chunk}`))
    child.once('error', reject)
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${name} failed with exit code ${code}; see the log`))))
  })
}

/** Migrates the database at `databaseUrl` with the compiled migration script under `dist`. */
export const migrate = (dist: string, databaseUrl: string, log: WriteStream): Promise<void> =>
  runNode('migrate', join(dist, 'scripts', 'migrate.js'), [], { ...baseEnv(), DATABASE_URL: databaseUrl }, log)

/** The few variables of this environment a child needs; the rest of its settings are given. */
export function baseEnv (): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ']) if (process.env[k] !== undefined) env[k] = process.env[k]
  return env
}

export function openLog (path: string): WriteStream {
  return createWriteStream(path, { flags: 'a' })
}
