// Security notifications: which events mail the user (NOTIFY_EVENTS), and where a notice's link
// goes (the account pages' devices list).
import { ConfigError } from './config-error.js'

/** The events of a security notice, as NOTIFY_EVENTS names them. */
export const NOTICE_EVENTS = [
  'new_device',
  'password_changed',
  'password_reset',
  'email_changed',
  'mfa_enabled',
  'mfa_disabled',
  'passkey_added',
  'passkey_removed',
  'recovery_codes_regenerated',
  'recovery_code_used',
  'session_reuse',
  'account_deactivated',
  'mfa_reset'
] as const
export type NoticeEvent = (typeof NOTICE_EVENTS)[number]

export interface NotifyConfig {
  /** The events that are mailed. */
  events: ReadonlySet<NoticeEvent>
  /** The devices page a notice points to (never a link that signs anyone in); null without the account pages. */
  devicesUrl: string | null
}

/**
 * NOTIFY_EVENTS: unset or `all`, `none`, or a comma-separated list of event names. `publicUrl`:
 * where the account pages are (null when ACCOUNT_PAGES=false: the notices then link nowhere).
 */
export function notifyConfig (value: string | undefined, publicUrl: string | null): NotifyConfig {
  const text = (value ?? 'all').trim()
  let events: NoticeEvent[]
  if (text === 'all') events = [...NOTICE_EVENTS]
  else if (text === 'none' || text === '') events = []
  else {
    const names = text.split(',').map((n) => n.trim()).filter(Boolean)
    const unknown = names.filter((n) => !(NOTICE_EVENTS as readonly string[]).includes(n))
    if (unknown.length > 0) throw new ConfigError(`NOTIFY_EVENTS: unknown event ${unknown.join(', ')} (known: all, none, ${NOTICE_EVENTS.join(', ')})`)
    events = names as NoticeEvent[]
  }
  return { events: new Set(events), devicesUrl: publicUrl === null ? null : `${publicUrl}/account/` }
}
