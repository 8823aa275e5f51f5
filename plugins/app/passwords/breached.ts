// The breached-password check (PASSWORD_BREACH_CHECK=hibp): Have I Been Pwned's Pwned Passwords
// range API, with k-anonymity. Only the first 5 hex characters of the password's SHA-1 leave the
// process; the API answers every suffix it knows under that prefix ("SUFFIX:COUNT" lines), with
// `Add-Padding: true` also random entries of count 0 (so the answer's size does not tell the
// prefix either), which are ignored. A check that gets no answer within the budget is skipped:
// a third party's outage must not stop sign-ups.
import { createHash } from 'node:crypto'

export const BREACHED = 'This password has appeared in a data breach and cannot be used.'
/** How long the API may take before the check is skipped. */
export const BREACH_CHECK_BUDGET_MS = 2_000

export type BreachResult = 'breached' | 'clean' | 'skipped'

/** Why a check was skipped: no answer in time, an unreachable or failing API, an answer it could not read. */
export type SkipReason = 'timeout' | 'unreachable' | 'status'

export function breachChecker (baseUrl: string, onSkip: (reason: SkipReason, detail: string) => void, budgetMs = BREACH_CHECK_BUDGET_MS) {
  const base = baseUrl.endsWith('/') ? baseUrl : baseUrl + '/'
  return async (password: string): Promise<BreachResult> => {
    const digest = createHash('sha1').update(password, 'utf8').digest('hex').toUpperCase()
    const prefix = digest.slice(0, 5)
    const suffix = digest.slice(5)
    try {
      // The budget covers the whole exchange, the body included.
      const res = await fetch(base + prefix, { headers: { 'Add-Padding': 'true', 'User-Agent': 'auth-service breach check' }, signal: AbortSignal.timeout(budgetMs) })
      if (!res.ok) {
        await res.body?.cancel()
        onSkip('status', `HTTP ${res.status}`)
        return 'skipped'
      }
      for (const line of (await res.text()).split('\n')) {
        if (line.length < 37 || line[35] !== ':') continue
        // Padding entries have a count of 0: never a match.
        if (line.slice(0, 35).toUpperCase() === suffix && Number.parseInt(line.slice(36), 10) > 0) return 'breached'
      }
      return 'clean'
    } catch (err) {
      const name = (err as Error).name
      onSkip(name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'unreachable', (err as Error).message)
      return 'skipped'
    }
  }
}
