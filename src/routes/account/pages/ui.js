// What the account pages share: forms whose errors are tied to their fields (aria-describedby,
// aria-invalid) and announced, busy buttons, views that move focus to their heading, and the
// plain-language labels of a session (device, time). No HTML is built from strings: user data
// only ever reaches the page as text.

/** The element with this id (the pages' markup is known; a missing id is a bug). */
export const byId = (id) => document.getElementById(id)

/**
 * Shows `message` in a region (role=status or alert), hidden while empty; a region marked
 * data-live stays rendered (an empty one takes no room) so that what appears in it is announced.
 */
export function say (region, message) {
  region.textContent = message ?? ''
  if (!region.hasAttribute('data-live')) region.hidden = !message
}

/** Removes every error a form shows. */
export function clearErrors (form) {
  for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid')
  for (const p of form.querySelectorAll('.field-error')) say(p, '')
  const summary = form.querySelector('.form-error')
  if (summary) say(summary, '')
}

/**
 * Shows an answer's errors: a field's messages under that field (the API's field names are the
 * inputs' names), everything else in the form's alert; focus goes to the first field in error.
 */
export function showErrors (form, body, fallback = 'Something went wrong. Please try again.') {
  clearErrors(form)
  const general = []
  let first = null
  for (const [name, value] of Object.entries(body ?? {})) {
    const messages = Array.isArray(value) ? value.map(String) : [typeof value === 'string' ? value : JSON.stringify(value)]
    const input = form.elements.namedItem(name)
    const slot = input && form.querySelector(`#${input.id}-error`)
    if (input && slot) {
      input.setAttribute('aria-invalid', 'true')
      say(slot, messages.join(' '))
      first ??= input
    } else if (name !== 'code' && name !== 'messages') {
      general.push(...messages)
    }
  }
  const summary = form.querySelector('.form-error')
  if (general.length > 0 || !first) say(summary, general.join(' ') || fallback)
  if (first) first.focus()
  else summary.focus()
}

/** The error an AuthError (or a network failure) shows in a form. */
function showFailure (form, err) {
  if (err?.status === 429 || err?.status === 503) {
    const wait = err.retryAfter ? ` Please try again in ${Math.ceil(err.retryAfter)} seconds.` : ' Please try again shortly.'
    return showErrors(form, { detail: err.status === 503 ? `The service is briefly unavailable.${wait}` : `Too many attempts.${wait}` })
  }
  if (err?.body) return showErrors(form, err.body)
  return showErrors(form, { detail: 'The service could not be reached. Check your connection and try again.' })
}

/** Runs `work` with the form's submit button disabled and marked busy. */
async function busy (form, work) {
  const button = form.querySelector('button[type=submit]')
  button.disabled = true
  form.setAttribute('aria-busy', 'true')
  try {
    return await work()
  } finally {
    button.disabled = false
    form.removeAttribute('aria-busy')
  }
}

/** The form's fields as an object (named inputs only). */
const valuesOf = (form) => Object.fromEntries(new FormData(form).entries())

/**
 * A form's submit: its values go to `work` with the submit button busy; what `work` throws is
 * shown in the form, unless `showFailures()` says the page has moved on (a session that ended).
 */
export function onSubmit (form, work, { showFailures = () => true } = {}) {
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    busy(form, async () => {
      try {
        await work(valuesOf(form))
        clearErrors(form)
      } catch (err) {
        if (showFailures()) showFailure(form, err)
      }
    })
  })
}

const BROWSERS = [[/Edg\//, 'Edge'], [/OPR\//, 'Opera'], [/Firefox\//, 'Firefox'], [/Chrom(e|ium)\//, 'Chrome'], [/Safari\//, 'Safari']]
const SYSTEMS = [[/iPhone|iPad|iPod/, 'iOS'], [/Android/, 'Android'], [/Windows/, 'Windows'], [/Mac OS X|Macintosh/, 'macOS'], [/CrOS/, 'ChromeOS'], [/Linux/, 'Linux']]
const first = (table, text) => table.find(([pattern]) => pattern.test(text))?.[1] ?? null

/** "Chrome on macOS" from a user agent; its start when nothing is recognised. */
export function deviceName (userAgent) {
  const ua = userAgent ?? ''
  const browser = first(BROWSERS, ua)
  const os = first(SYSTEMS, ua)
  if (browser && os) return `${browser} on ${os}`
  return browser ?? os ?? (ua ? ua.slice(0, 60) : 'Unknown device')
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' })
const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })

/** "2 minutes ago" (and the exact time, for a title). */
export function when (iso) {
  const date = new Date(iso)
  const seconds = Math.round((date.getTime() - Date.now()) / 1000)
  const steps = [[60, 'second'], [3600, 'minute'], [86400, 'hour'], [Infinity, 'day']]
  let unit = 'second'
  let value = seconds
  let size = 1
  for (const [limit, name] of steps) {
    unit = name
    value = Math.round(seconds / size)
    if (Math.abs(seconds) < limit) break
    size = limit
  }
  return { text: Math.abs(seconds) < 45 ? 'just now' : relative.format(value, unit), exact: absolute.format(date) }
}
