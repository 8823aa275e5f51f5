// The e-mails' words: for each kind a subject, a plain-text body and an HTML body, Mustache
// templates read and checked once at start. The defaults are in templates/ beside this module;
// a file of the same name in EMAIL_TEMPLATES_DIR replaces one of them. Mustache is logic-less
// (an operator's template cannot run code) and escapes {{x}} for HTML; the subject and the text
// body are rendered without escaping.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Mustache from 'mustache'
import { NOTICE_EVENTS, type NoticeEvent } from '../config/notify.js'

export const MAIL_KINDS = ['password-reset', 'verify-email', 'email-change', 'security-notice'] as const
export type MailKind = (typeof MAIL_KINDS)[number]

/** The kinds a link is the point of: their bodies must carry {{link}}. A security notice carries none that signs anyone in. */
const LINK_KINDS: ReadonlySet<string> = new Set<MailKind>(['password-reset', 'verify-email', 'email-change'])

/** What a template can use. */
export interface MailVars {
  /** The link to follow (already filled in, see fillLink); in a security notice, the sessions page. */
  link?: string
  /** How long the link works, for people: "1 hour", "3 days". */
  expires?: string
  /** When the link stops working, ISO 8601. */
  expiresAt?: string
  username: string
  email: string
  /** A security notice: which event, a sentence that tells it, and its subject line. */
  event?: NoticeEvent
  summary?: string
  title?: string
  /** A security notice: when (UTC), and, for a sign-in, from which device and address. */
  time?: string
  device?: string
  ip?: string
  /** An e-mail change: the new address (the notice goes to the old one). */
  newEmail?: string
}

export interface RenderedMail {
  subject: string
  text: string
  html: string
}

const FIELD_NAMES: ReadonlyArray<keyof MailVars> = ['link', 'expires', 'expiresAt', 'username', 'email', 'event', 'summary', 'title', 'time', 'device', 'ip', 'newEmail']
// Each notice event is also a variable, set in its own notice only: a {{#password_changed}} section.
const VAR_NAMES: ReadonlySet<string> = new Set<string>([...FIELD_NAMES, ...NOTICE_EVENTS])
const PARTS = { subject: '.subject.txt', text: '.txt', html: '.html' } as const
type Part = keyof typeof PARTS

/** Every template file name: password-reset.subject.txt, password-reset.txt, ... */
export const TEMPLATE_FILES: readonly string[] = MAIL_KINDS.flatMap((kind) => Object.values(PARTS).map((ext) => kind + ext))

/** The default templates: beside this module (tsx), or in the source tree when running from dist/ (tsc copies no data files). */
export function defaultTemplatesDir (): string {
  const candidates = [new URL('./templates/', import.meta.url), new URL('../../../../plugins/app/mail/templates/', import.meta.url)]
  for (const url of candidates) {
    const dir = fileURLToPath(url)
    if (TEMPLATE_FILES.every((f) => existsSync(join(dir, f)))) return dir
  }
  throw new Error(`e-mail templates not found (looked in ${candidates.map((u) => fileURLToPath(u)).join(', ')})`)
}

type Token = [string, string, number, number, Token[]?, ...unknown[]]

/** The variable names a parsed template reads (sections included); partials are refused. */
function namesUsed (tokens: Token[], file: string, names = new Set<string>()): Set<string> {
  for (const token of tokens) {
    const [type, value] = token
    if (type === '>') throw new Error(`e-mail template ${file}: partials ({{> ${value}}}) are not supported`)
    if (type === 'name' || type === '&' || type === '#' || type === '^') names.add(value)
    if ((type === '#' || type === '^') && Array.isArray(token[4])) namesUsed(token[4], file, names)
  }
  return names
}

export interface Templates {
  render(kind: MailKind, vars: MailVars): RenderedMail
  /** The file each template was read from, by template file name. */
  readonly sources: Record<string, string>
  /** Files in the override folder that replace nothing (a misspelt name, most likely). */
  readonly unused: string[]
}

/**
 * Reads, parses and checks every template, the overrides first. Throws an Error naming the file
 * when one cannot be read, does not parse, uses an unknown variable, or (a body) lacks {{link}}.
 */
export function loadTemplates (overridesDir: string | null, defaultsDir: string = defaultTemplatesDir()): Templates {
  // A writer of our own: its parse cache is not shared with other users of Mustache.
  const writer = new Mustache.Writer()
  const texts: Record<string, string> = {}
  const sources: Record<string, string> = {}
  const overrides = overridesDir === null ? [] : readdirSync(overridesDir)
  for (const name of TEMPLATE_FILES) {
    const file = overrides.includes(name) ? join(overridesDir!, name) : join(defaultsDir, name)
    let text: string
    try {
      text = readFileSync(file, 'utf8').replace(/^\uFEFF/, '')
    } catch (err) {
      throw new Error(`e-mail template ${file}: cannot be read (${(err as Error).message})`)
    }
    let tokens: Token[]
    try {
      tokens = writer.parse(text) as Token[]
    } catch (err) {
      throw new Error(`e-mail template ${file}: does not parse (${(err as Error).message})`)
    }
    const used = namesUsed(tokens, file)
    const unknown = [...used].filter((n) => n !== '.' && !VAR_NAMES.has(n.split('.')[0]!))
    if (unknown.length > 0) {
      throw new Error(`e-mail template ${file}: unknown variable ${unknown.map((n) => `{{${n}}}`).join(', ')} (known: ${[...VAR_NAMES].join(', ')})`)
    }
    const kind = MAIL_KINDS.find((k) => name.startsWith(k + '.'))!
    if (LINK_KINDS.has(kind) && !name.endsWith(PARTS.subject) && !used.has('link')) throw new Error(`e-mail template ${file}: the body must contain {{link}}`)
    texts[name] = text
    sources[name] = file
  }
  const unused = overrides.filter((f) => !TEMPLATE_FILES.includes(f))

  const raw = { escape: (value: unknown) => String(value) }
  const html = { escape: Mustache.escape }
  const part = (kind: MailKind, p: Part) => texts[kind + PARTS[p]]!
  return {
    sources,
    unused,
    render (kind, vars) {
      if (!MAIL_KINDS.includes(kind)) throw new Error(`unknown mail kind ${JSON.stringify(kind)}`)
      // Only the known variables reach a template, as strings; a notice's event is also set by name.
      const view: Record<string, string> = Object.fromEntries(FIELD_NAMES.map((n) => [n, String(vars[n] ?? '')]))
      for (const event of NOTICE_EVENTS) view[event] = vars.event === event ? 'yes' : ''
      return {
        // One line: a subject never carries a line break into the header.
        subject: writer.render(part(kind, 'subject'), view, undefined, raw).replace(/\s+/g, ' ').trim(),
        text: writer.render(part(kind, 'text'), view, undefined, raw),
        html: writer.render(part(kind, 'html'), view, undefined, html)
      }
    }
  }
}

/** Fills {name} placeholders of a link template (PASSWORD_RESET_URL, EMAIL_VERIFY_URL), each value URL-encoded. */
export function fillLink (template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (Object.hasOwn(values, name) ? encodeURIComponent(values[name]!) : whole))
}

const UNITS: Array<[number, string]> = [
  [86400, 'day'],
  [3600, 'hour'],
  [60, 'minute'],
  [1, 'second']
]

/** A duration for people: the largest unit that divides it exactly ("1 hour", "3 days", "90 minutes"). */
export function humanDuration (seconds: number): string {
  const s = Math.max(0, Math.round(seconds))
  const [size, unit] = UNITS.find(([size]) => s % size === 0 && s >= size) ?? [1, 'second']
  const n = s / size
  return `${n} ${unit}${n === 1 ? '' : 's'}`
}

/** expires and expiresAt of MailVars for a link that works `seconds` from `now`. */
export function expiryVars (seconds: number, now: Date = new Date()): { expires: string; expiresAt: string } {
  return { expires: humanDuration(seconds), expiresAt: new Date(now.getTime() + seconds * 1000).toISOString() }
}
