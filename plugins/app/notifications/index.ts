// Security notifications (`fastify.notify`): an e-mail to the user when something happens to their
// account (API.md, "Security notifications"), through the mail plugin's `security-notice`
// template, for the events NOTIFY_EVENTS lists. Sent after the answer, never awaited: a flow's
// answer does not wait for mail. A failure (of the mail, or of a step before it: the user or the
// device history not readable with the database or the token store down) is logged, throttled,
// and counted in auth_security_notices_total{outcome="failed"}. A notice
// never carries a token or a link that signs anyone in: at most the devices page (with the session
// a new-device notice is about, which the page marks once the user has signed in).
import fp from 'fastify-plugin'
import { Counter } from 'prom-client'
import type { NoticeEvent } from '../config/notify.js'
import { deviceOf } from './devices.js'
import { throttledWarnings } from '../../external/throttled-warnings.js'

export type { NoticeEvent } from '../config/notify.js'

/** What a notice may tell besides the event itself. */
export interface NoticeDetails {
  /** An e-mail change: the new address (the notice goes to the old one). */
  newEmail?: string
  /** A sign-in: its device (browser and system) and address. */
  device?: string
  ip?: string
  /** When it happened (default: now). */
  at?: Date
  /** The session it is about: the link shows it marked in the devices list. */
  sid?: string
}

export interface Recipient {
  email: string
  username: string
}

export interface Notify {
  /** Mails `to` a notice of `event`, after the answer, when NOTIFY_EVENTS has it. */
  send(to: Recipient, event: NoticeEvent, details?: NoticeDetails): void
  /** The same for a user known by id (read after the answer; nothing when they are gone). */
  user(userId: string, event: NoticeEvent, details?: NoticeDetails): void
  /**
   * After a sign-in's answer: its device (browser and system family, network) joins the user's
   * history in the token store; with `session`, a device not seen in 90 days gets the user a
   * new_device notice whose link opens the devices list at that session ("was this you?").
   * Register passes null: its device is known from the start.
   */
  signedIn(user: Recipient & { id: string }, client: { ip: string; userAgent: string }, session: { sid: string } | null): void
  /** After an account's deletion: its device history goes too (a failure is logged; it would expire within 90 days). */
  forget(userId: string): void
  /** Resolves once every notice and device check begun so far is done (tests). */
  settled(): Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance {
    notify: Notify
  }
}

/** Each event's subject and sentence. */
const WORDS: Record<NoticeEvent, { title: string; summary: (d: NoticeDetails) => string }> = {
  new_device: { title: 'New sign-in to your account', summary: () => 'Your account was signed in to from a device it has not been used on in the last 90 days.' },
  password_changed: { title: 'Your password was changed', summary: () => 'The password of your account was changed, and your other devices were signed out.' },
  password_reset: { title: 'Your password was reset', summary: () => 'The password of your account was reset with a link sent to this address, and every device was signed out.' },
  email_changed: {
    title: 'Your e-mail address was changed',
    summary: (d) => `The e-mail address of your account was changed to ${d.newEmail ?? 'another address'}. This address no longer receives its e-mails.`
  },
  mfa_enabled: { title: 'Two-factor authentication was turned on', summary: () => 'Two-factor authentication (an authenticator app) was turned on for your account.' },
  mfa_disabled: { title: 'Two-factor authentication was turned off', summary: () => 'Two-factor authentication was turned off for your account, and your other devices were signed out.' },
  passkey_added: { title: 'A passkey was added', summary: () => 'A passkey was added to your account: it can now be used to sign in.' },
  passkey_removed: { title: 'A passkey was removed', summary: () => 'A passkey was removed from your account.' },
  recovery_codes_regenerated: { title: 'New recovery codes', summary: () => 'New recovery codes were made for your account; the old ones no longer work.' },
  recovery_code_used: { title: 'A recovery code was used', summary: () => 'One of your recovery codes was used to confirm a sign-in or a change to your account. Each code works once.' },
  session_reuse: {
    title: 'A device was signed out',
    summary: () => 'A refresh token was used twice; that device was signed out. This can be an app that retried, or someone who copied the token.'
  },
  account_deactivated: { title: 'Your account was deactivated', summary: () => 'An administrator deactivated your account: it can no longer sign in, and every device was signed out.' },
  mfa_reset: {
    title: 'Your two-factor authentication was reset',
    summary: () => 'An administrator turned two-factor authentication off for your account and removed its recovery codes; every device was signed out.'
  }
}

export default fp(
  async (fastify) => {
    const { mail, users, tokenStore: store } = fastify
    const { events, devicesUrl } = fastify.config.notify
    // A failure (the database or the token store down) is one warning every few seconds, not one per notice.
    const warn = throttledWarnings(fastify.log.child({ plugin: 'notify' }))

    const notices = new Counter({
      name: 'auth_security_notices_total',
      help: 'Security notices by event and outcome: sent, or failed (the mail not delivered, or a step before it: the user or the device history not readable)',
      labelNames: ['event', 'outcome'] as const,
      registers: [fastify.metrics.registry]
    })
    for (const event of events) for (const outcome of ['sent', 'failed']) notices.inc({ event, outcome }, 0)

    // Work begun after an answer and not finished yet.
    const pending = new Set<Promise<unknown>>()
    const later = (work: () => Promise<void>, failed: (err: Error) => void) => {
      const done = new Promise<void>((resolve) => setImmediate(resolve)).then(work).catch(failed)
      pending.add(done)
      void done.finally(() => pending.delete(done))
    }
    /** A notice's work, after the answer: it says whether a notice went out (null: none was due). */
    const track = (event: NoticeEvent, work: () => Promise<boolean | null>) => later(
      async () => {
        const sent = await work()
        if (sent !== null) notices.inc({ event, outcome: sent ? 'sent' : 'failed' })
      },
      (err) => {
        notices.inc({ event, outcome: 'failed' })
        warn(`notify:${event}`, { event, err: { message: err.message } }, 'security notice: a step failed')
      }
    )

    /** The mail; resolves whether it was delivered (a failure is logged by the mail plugin). */
    const deliver = (to: Recipient, event: NoticeEvent, details: NoticeDetails): Promise<boolean> => {
      const words = WORDS[event]
      return mail.send('security-notice', to.email, {
        username: to.username,
        email: to.email,
        event,
        title: words.title,
        summary: words.summary(details),
        time: (details.at ?? new Date()).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC'),
        device: details.device,
        ip: details.ip,
        newEmail: details.newEmail,
        // The fragment never reaches a server (nor its access log); the page reads it.
        link: devicesUrl === null || details.sid === undefined ? devicesUrl ?? undefined : `${devicesUrl}#session=${encodeURIComponent(details.sid)}`
      })
    }

    const notify: Notify = {
      send (to, event, details = {}) {
        if (events.has(event)) track(event, () => deliver(to, event, details))
      },
      user (userId, event, details = {}) {
        if (!events.has(event)) return
        track(event, async () => {
          const user = await users.findById(userId)
          return user ? deliver(user, event, details) : null
        })
      },
      signedIn (user, { ip, userAgent }, session) {
        const at = new Date()
        if (session === null || !events.has('new_device')) {
          // No notice can be due: the device is only recorded, and a failure only logged.
          later(async () => {
            await store.rememberDevice(user.id, deviceOf(userAgent, ip).fingerprint)
          }, (err) => warn('device', { err: { message: err.message } }, "a sign-in's device was not recorded"))
          return
        }
        // A failure to read or record the device counts as a failed new_device notice (one may have been due).
        track('new_device', async () => {
          const device = deviceOf(userAgent, ip)
          if (await store.rememberDevice(user.id, device.fingerprint)) return null
          return deliver(user, 'new_device', { device: device.label, ip, at, sid: session.sid })
        })
      },
      forget (userId) {
        later(() => store.forgetDevices(userId), (err) => {
          warn('forget', { err: { message: err.message } }, 'a deleted account\'s device history was not removed (it expires within 90 days)')
        })
      },
      async settled () {
        while (pending.size > 0) await Promise.all([...pending])
      }
    }
    fastify.decorate('notify', notify)
    // Before the mail plugin closes (plugins close in reverse order): what was begun goes out.
    fastify.addHook('onClose', () => notify.settled())
  },
  { name: 'notify', dependencies: ['config', 'metrics', 'users', 'mail', 'token-store'] }
)
