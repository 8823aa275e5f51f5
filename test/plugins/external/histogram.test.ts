// The hot paths' histogram reads exactly as prom-client's: the same observations give the same
// /metrics text and the same JSON, bucket edges included (a value equal to a bound is in it).
import t from 'tap'
import { Histogram, Registry } from 'prom-client'
import { FastHistogram } from '../../../plugins/external/histogram.js'
import { LATENCY_BUCKETS } from '../../../plugins/external/metrics.js'

const HELP = 'Requests by method, route and status'
const LABELS = ['method', 'route', 'status'] as const

t.test('the same observations: the same exposition and JSON as prom-client', async (t) => {
  const ours = new Registry()
  const theirs = new Registry()
  const fast = new FastHistogram('x_duration_seconds', HELP, LABELS, LATENCY_BUCKETS, [ours])
  const reference = new Histogram({ name: 'x_duration_seconds', help: HELP, labelNames: LABELS, buckets: LATENCY_BUCKETS, registers: [theirs] })
  const series = [
    ['GET', '/api/protected-endpoint/', '200'],
    ['POST', '/api/token/refresh/', '401'],
    ['GET', 'unmatched', '404']
  ] as const
  // Every bound itself, just above and below it, zero and beyond the last bound.
  const values = [0, 20, ...LATENCY_BUCKETS.flatMap((b) => [b, b * 0.999, b * 1.001])]
  for (const [i, labels] of series.entries()) {
    for (const value of values.slice(i)) {
      fast.series(...labels).observe(value)
      reference.labels(...labels).observe(value)
    }
  }
  t.equal(await ours.metrics(), await theirs.metrics(), 'the text format')
  t.same(await ours.getMetricsAsJSON(), await theirs.getMetricsAsJSON(), 'the JSON')
  t.same(await fast.get(), await reference.get(), 'get()')

  // A series is made once: the same object for the same labels.
  t.equal(fast.series('GET', '/api/protected-endpoint/', '200'), fast.series('GET', '/api/protected-endpoint/', '200'))

  // reset() zeroes every series (kept: callers hold them), as prom-client's empties them.
  fast.reset()
  const zero = (await fast.get()).values
  t.ok(zero.length > 0 && zero.every((v) => v.value === 0), 'every sample 0 after reset')
})
