// E-mail: the password-reset and verification messages. With SMTP_URL, nodemailer over a pool
// of SMTP connections; without it (never in production, config refuses that), each message is
// written as an .eml file under DATA_DIR/mail, where a developer can follow its link, and the log
// says where (never the link: a staging host's log shipping would carry account-takeover links).
// Callers do not await send() on the request path (a reset must take the same time whether the
// address exists or not): the plugin keeps the deliveries on their way and lets a shutdown
// wait for them, up to SMTP_TIMEOUT. A failed delivery is logged and counted, never thrown.
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FastifyBaseLogger } from 'fastify'
import fp from 'fastify-plugin'
import nodemailer from 'nodemailer'
import { Counter } from 'prom-client'
import type { Config } from '../config/index.js'
import { loadTemplates, MAIL_KINDS, type MailKind, type MailVars, type RenderedMail } from './templates.js'

export { expiryVars, fillLink, humanDuration, type MailKind, type MailVars } from './templates.js'

export interface MailStats {
  sent: Record<MailKind, number>
  failed: Record<MailKind, number>
}

export interface Mail {
  /**
   * Renders and delivers one message. Never rejects: a failure is logged (without the body or
   * the link) and counted. Resolves true once the SMTP server accepted it (or the .eml file is
   * written), false otherwise.
   */
  send(kind: MailKind, to: string, vars: MailVars): Promise<boolean>
  /** Messages delivered and failed, per kind, since start. */
  readonly stats: MailStats
}

declare module 'fastify' {
  interface FastifyInstance {
    mail: Mail
  }
}

interface Message extends RenderedMail {
  from: string
  to: string
}

/** Hands one message over; rejects when it is not delivered. */
type Deliver = (kind: MailKind, message: Message, signal: AbortSignal) => Promise<void>

interface Transport {
  deliver: Deliver
  close(): void
}

/** Per message, whatever the SMTP server does: a connection, a greeting and a few replies. */
const DEADLINE_TIMEOUTS = 3

function smtpTransport (config: Config, log: FastifyBaseLogger): Transport {
  const timeout = config.timeouts.smtp
  const transport = nodemailer.createTransport({
    url: config.email.smtpUrl!,
    pool: true,
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    dnsTimeout: timeout,
    logger: false
  })
  // A pooled connection that fails between messages is reported here, not to a send; without a
  // listener the EventEmitter would throw it.
  transport.on('error', (err: NodeJS.ErrnoException) => log.warn({ err: { message: err.message, code: err.code } }, 'smtp connection error'))
  return {
    async deliver (_kind, message, signal) {
      await transport.sendMail({ ...message, signal })
    },
    close: () => transport.close()
  }
}

function fileTransport (config: Config, log: FastifyBaseLogger): Transport {
  // The full RFC 822 message, as it would go over SMTP.
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' })
  const dir = join(config.dataDir, 'mail')
  return {
    async deliver (kind, message) {
      const info = await transport.sendMail(message)
      if (!Buffer.isBuffer(info.message)) throw new Error('stream transport did not return a buffer')
      await mkdir(dir, { recursive: true })
      // ISO time without colons, so the name is valid on every file system.
      const file = join(dir, `${new Date().toISOString().replace(/:/g, '-')}-${kind}-${randomBytes(4).toString('hex')}.eml`)
      await writeFile(file, info.message, { mode: 0o600 })
      // Where to find it; the link stays in the file (mode 0600), out of the log.
      log.info({ kind, file }, 'mail written (no SMTP_URL)')
    },
    close: () => transport.close()
  }
}

const zero = () => Object.fromEntries(MAIL_KINDS.map((k) => [k, 0])) as Record<MailKind, number>

export default fp(
  async (fastify) => {
    const config = fastify.config
    const { email } = config
    const timeout = config.timeouts.smtp
    const log = fastify.log.child({ plugin: 'mail' })

    const templates = loadTemplates(email.templatesDir)
    if (templates.unused.length > 0) {
      log.warn({ dir: email.templatesDir, files: templates.unused, names: Object.keys(templates.sources) }, 'EMAIL_TEMPLATES_DIR: files that replace no template')
    }
    const transport = email.smtpUrl ? smtpTransport(config, log) : fileTransport(config, log)

    const stats: MailStats = { sent: zero(), failed: zero() }
    // The same counts for Prometheus, read when scraped.
    // eslint-disable-next-line no-new -- prom-client registers the metric with the registry it is given
    new Counter({
      name: 'auth_mail_total',
      help: 'E-mails by kind and outcome (sent, failed)',
      labelNames: ['kind', 'outcome'] as const,
      registers: [fastify.metrics.registry],
      collect () {
        this.reset()
        for (const kind of MAIL_KINDS) {
          this.inc({ kind, outcome: 'sent' }, stats.sent[kind])
          this.inc({ kind, outcome: 'failed' }, stats.failed[kind])
        }
      }
    })
    const pending = new Set<Promise<boolean>>()
    // Aborted when a shutdown has waited long enough: what is still on its way fails (and is logged).
    const shutdown = new AbortController()
    let closed = false

    const fail = (kind: MailKind, err: unknown) => {
      stats.failed[kind]++
      const { message, code, responseCode } = (err ?? {}) as { message?: string; code?: string; responseCode?: number }
      // Never the body, the link or the error object itself (it may hold the message).
      log.error({ kind, err: { message, code, ...(responseCode ? { responseCode } : {}) } }, 'mail delivery failed')
    }

    const run = async (kind: MailKind, to: string, vars: MailVars): Promise<boolean> => {
      try {
        if (closed) throw Object.assign(new Error('mail plugin closed: the app is shutting down'), { code: 'ECLOSED' })
        const message = { from: email.from, to, ...templates.render(kind, vars) }
        const signal = AbortSignal.any([shutdown.signal, AbortSignal.timeout(DEADLINE_TIMEOUTS * timeout)])
        await transport.deliver(kind, message, signal)
        stats.sent[kind]++
        return true
      } catch (err) {
        fail(kind, err)
        return false
      }
    }

    const mail: Mail = {
      send (kind, to, vars) {
        if (!MAIL_KINDS.includes(kind)) {
          log.error({ kind }, 'mail delivery failed: unknown kind')
          return Promise.resolve(false)
        }
        const delivery = run(kind, to, vars)
        pending.add(delivery)
        void delivery.then(() => pending.delete(delivery))
        return delivery
      },
      stats
    }
    fastify.decorate('mail', mail)

    // Plugins close in reverse order, so the routes and flows that send are gone by now.
    fastify.addHook('onClose', async () => {
      closed = true
      if (pending.size > 0) {
        const all = Promise.all([...pending])
        let timer: NodeJS.Timeout | undefined
        const finished = await Promise.race([all.then(() => true), new Promise<false>((resolve) => (timer = setTimeout(resolve, timeout, false)))])
        clearTimeout(timer)
        if (!finished) {
          log.warn({ pending: pending.size }, 'shutdown: mail still on its way after SMTP_TIMEOUT, giving up on it')
          shutdown.abort()
          // An aborted send fails at once (and is logged as failed); a last short bound all the same.
          await Promise.race([all, new Promise((resolve) => setTimeout(resolve, 1_000).unref())])
        }
      }
      transport.close()
    })
  },
  { name: 'mail', dependencies: ['config', 'metrics'] }
)
