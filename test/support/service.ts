// The service as users start it (`src/server.ts` in a child process), for tests of the process
// itself: configuration refusals, signals, crashes, real sockets.
import { spawn, type ChildProcess } from 'node:child_process'

const root = new URL('../..', import.meta.url).pathname

export interface Service {
  child: ChildProcess
  /** Everything it printed so far (stdout and stderr). */
  output(): string
  /** Its exit code (null when killed by a signal). */
  exited: Promise<number | null>
  /** Resolves with its base URL once it prints that it listens; rejects if it exits first. */
  listening(): Promise<string>
}

/** `cwd` other than the project's: the folder whose .env it reads (the loader is found from here). */
export function startService (env: Record<string, string>, cwd = root): Service {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), root + 'src/server.ts'], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (out += d))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const listening = () =>
    new Promise<string>((resolve, reject) => {
      const timer = setInterval(() => {
        const m = /listening on (http:\/\/\S+)/.exec(out)
        if (m) {
          clearInterval(timer)
          resolve(m[1]!)
        }
      }, 50)
      void exited.then((code) => {
        clearInterval(timer)
        reject(new Error(`exited ${code}: ${out}`))
      })
    })
  return { child, output: () => out, exited, listening }
}

/** POST a JSON body; the status and the parsed answer. */
export async function postJson (base: string, path: string, body: unknown, access?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(access ? { authorization: `Bearer ${access}` } : {}) },
    body: JSON.stringify(body)
  })
  const text = await res.text()
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} }
}
