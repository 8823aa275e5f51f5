// Child processes of the benchmark (the service, the baseline, the migration): each is compiled
// JS from dist/ run by this same node, on 127.0.0.1 and a port the OS picks. Their output goes to
// a log file next to the results, so a failure can be read after the run.
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, type WriteStream } from 'node:fs'

export interface Child {
  name: string
  url: string
  pid: number
  stop(): Promise<void>
}

/** Starts `node script` and resolves once a stdout line matches `ready` (whose group 1 is the port). */
export function startChild(
  name: string,
  script: string,
  env: NodeJS.ProcessEnv,
  ready: RegExp,
  log: WriteStream,
  timeoutMs = 60_000
): Promise<Child> {
  const child = spawn(process.execPath, [...(process.env.BENCH_NODE_OPTIONS?.split(' ').filter(Boolean) ?? []), script], {
    env,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return new Promise((resolve, reject) => {
    let buffered = ''
    let done = false
    const timer = setTimeout(() => fail(new Error(`${name}: not ready after ${timeoutMs / 1000} s (see the log)`)), timeoutMs)
    const fail = (err: Error) => {
      if (done) return
      done = true
      clearTimeout(timer)
      child.kill('SIGKILL')
      reject(err)
    }
    child.stderr!.on('data', (chunk: Buffer) => log.write(`[${name}] ${chunk}`))
    child.stdout!.on('data', (chunk: Buffer) => {
      log.write(`[${name}] ${chunk}`)
      if (done) return
      buffered += chunk.toString()
      const m = ready.exec(buffered)
      if (m) {
        done = true
        clearTimeout(timer)
        buffered = ''
        resolve({ name, url: `http://127.0.0.1:${m[1]}`, pid: child.pid!, stop: () => stopChild(child, exited) })
      }
    })
    child.once('exit', (code, signal) => fail(new Error(`${name} exited early (code ${code}, signal ${signal}); see the log`)))
  })
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
  await exited
  clearTimeout(timer)
}

/** Runs `node script args` to completion; rejects on a non-zero exit. */
export function runNode(name: string, script: string, args: string[], env: NodeJS.ProcessEnv, log: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout.on('data', (chunk: Buffer) => log.write(`[${name}] ${chunk}`))
    child.stderr.on('data', (chunk: Buffer) => log.write(`[${name}] ${chunk}`))
    child.once('error', reject)
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${name} failed with exit code ${code}; see the log`))))
  })
}

export function openLog(path: string): WriteStream {
  return createWriteStream(path, { flags: 'a' })
}
