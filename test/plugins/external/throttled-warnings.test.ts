// One warning per kind every few seconds instead of one per request.
import t from 'tap'
import { throttledWarnings } from '../../../plugins/external/throttled-warnings.js'

t.test('one warning per kind every interval, with the count of those not logged', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const log = { warn: (fields: Record<string, unknown>, msg: string) => lines.push({ ...fields, msg }) }
  const warn = throttledWarnings(log as never, 200)
  for (let i = 0; i < 50; i++) warn('redis:down', { n: i }, 'redis unavailable')
  warn('database:timeout', {}, 'database unavailable')
  t.equal(lines.length, 2, '51 failures, two kinds: two lines')
  await new Promise((resolve) => setTimeout(resolve, 250))
  warn('redis:down', {}, 'redis unavailable')
  t.equal(lines.length, 3)
  t.equal(lines[2]!.notLogged, 49, 'the next line says how many were held back')
})
