// A real SMTP server for one test (smtp-server on 127.0.0.1, a free port, no TLS, no login
// needed): every message it accepts is parsed with mailparser, so tests read what a mail client
// would. It can refuse the next messages (550) or hold its answer to DATA, to show a failed or
// a slow delivery.
import type { AddressInfo } from 'node:net'
import { simpleParser, type ParsedMail } from 'mailparser'
import { SMTPServer } from 'smtp-server'

/** The parts of a tap Test that startSmtp uses. */
interface TestLike {
  teardown(fn: () => unknown): void
}

export interface SmtpOptions {
  /** Refuse this many messages first (550 to RCPT TO). */
  reject?: number
}

export interface TestSmtp {
  /** smtp://127.0.0.1:PORT */
  url: string
  /** Every message accepted so far, in order. */
  messages: ParsedMail[]
  /** The next accepted message that matches (one already received and not yet taken by next() counts). */
  next(predicate?: (mail: ParsedMail) => boolean, timeoutMs?: number): Promise<ParsedMail>
  /** Refuse the next n messages (550 to RCPT TO). */
  rejectNext(n: number): void
  /** Hold the answer to the next DATA until the returned function is called. */
  holdNext(): () => void
  /** Messages refused so far. */
  readonly rejected: number
  close(): Promise<void>
}

export async function startSmtp (t?: TestLike, options: SmtpOptions = {}): Promise<TestSmtp> {
  const messages: ParsedMail[] = []
  const taken = new Set<ParsedMail>()
  const waiters = new Set<() => boolean>()
  let toReject = options.reject ?? 0
  let rejected = 0
  const holds: Array<Promise<void>> = []

  const server = new SMTPServer({
    authOptional: true,
    secure: false,
    disabledCommands: ['STARTTLS'],
    logger: false,
    // A pooled client still connected when the test ends must not keep close() waiting 30 s.
    closeTimeout: 200,
    onRcptTo (_address, _session, callback) {
      if (toReject > 0) {
        toReject--
        rejected++
        return callback(Object.assign(new Error('Mailbox unavailable (test server refuses it)'), { responseCode: 550 }))
      }
      callback()
    },
    onData (stream, _session, callback) {
      const hold = holds.shift()
      simpleParser(stream)
        .then(async (mail) => {
          if (hold) await hold
          messages.push(mail)
          for (const wake of [...waiters]) wake()
          callback()
        })
        .catch((err: Error) => callback(err))
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  // A client dropping its connection is not a test failure.
  server.on('error', () => {})
  const { port } = server.server.address() as AddressInfo

  let closed = false
  const close = () =>
    closed
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
        closed = true
        server.close(() => resolve())
      })
  t?.teardown(close)

  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    next (predicate = () => true, timeoutMs = 5_000) {
      return new Promise<ParsedMail>((resolve, reject) => {
        const check = () => {
          const found = messages.find((m) => !taken.has(m) && predicate(m))
          if (!found) return false
          taken.add(found)
          clearTimeout(timer)
          waiters.delete(check)
          resolve(found)
          return true
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`no matching message within ${timeoutMs} ms (${messages.length} received)`))
        }, timeoutMs)
        if (!check()) waiters.add(check)
      })
    },
    rejectNext (n) {
      toReject = n
    },
    holdNext () {
      let release!: () => void
      holds.push(new Promise<void>((resolve) => (release = resolve)))
      return () => release()
    },
    get rejected () {
      return rejected
    },
    close
  }
}
