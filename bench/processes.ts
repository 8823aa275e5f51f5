// Child processes of the benchmark (the service, the baseline, the migration): each is compiled
// JS from dist/ run by this same node, on 127.0.0.1 and a port the OS picks. Their output goes to
// a log file next to the results, so a failure can be read after the run.
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, createWriteStream, existsSync, openSync, readFileSync, statSync, type WriteStream } from 'node:fs'

export interface Child {
  name: string
  url: string
  pid: number
  stop(): Promise<void>
}

/**
 * Starts `node script` and resolves once its output matches `ready` (whose group 1 is the port).
 * The child writes straight into the log file (no pipe through this process, which also runs
 * the load generator and must not pay for the child's logging).
 */
export async function startChild(name: string, script: string, env: NodeJS.ProcessEnv, ready: RegExp, logPath: string, timeoutMs = 60_000): Promise<Child> {
  const from = existsSync(logPath) ? statSync(logPath).size : 0
  const fd = openSync(logPath, 'a')
  const child = spawn(process.execPath, [...(process.env.BENCH_NODE_OPTIONS?.split(' ').filter(Boolean) ?? []), script], {
    env,
    stdio: ['ignore', fd, fd]
  })
  closeSync(fd)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${name} exited early (code ${child.exitCode}, signal ${child.signalCode}); see ${logPath}`)
    }
    // Only what was written since this child started; the ready patterns of the children differ.
    const text = readFileSync(logPath, 'utf8').slice(from)
    const m = ready.exec(text)
    if (m) return { name, url: `http://127.0.0.1:${m[1]}`, pid: child.pid!, stop: () => stopChild(child, exited) }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  child.kill('SIGKILL')
  throw new Error(`${name}: not ready after ${timeoutMs / 1000} s; see ${logPath}`)
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
