// A Prometheus histogram for the hot paths. prom-client's labelled child validates its labels,
// copies them and hashes them again on every observe (about 1.5 µs per call on this machine, and
// a request observes one or two: its latency, its token-store call). Here a series is made once
// per label values and an observation is a bucket search and three additions. It is registered in
// a prom-client Registry as a custom metric whose get() returns what prom-client's Histogram
// returns, so /metrics reads the same (test/plugins/external/histogram.test.ts compares them).
import type { Metric, Registry } from 'prom-client'

/** One label combination's counts. */
export class HistogramSeries {
  /** Observations per bucket (not cumulative); the last one is +Inf. */
  readonly counts: Float64Array
  sum = 0
  count = 0

  constructor (
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: readonly number[]
  ) {
    this.counts = new Float64Array(bounds.length + 1)
  }

  observe (value: number): void {
    const { bounds } = this
    let i = 0
    while (i < bounds.length && value > bounds[i]!) i++
    this.counts[i]!++
    this.sum += value
    this.count++
  }
}

interface Sample {
  labels: Record<string, string | number>
  /** The series' labels, written after `labels` (prom-client's layout). */
  sharedLabels: Readonly<Record<string, string>>
  value: number
  /** As prom-client's: null on buckets (none recorded), undefined on _sum and _count. */
  exemplar: null | undefined
  metricName: string
}

export class FastHistogram {
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly #bounds: readonly number[]
  readonly #series = new Map<string, HistogramSeries>()

  constructor (
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    buckets: readonly number[],
    registers: Registry[]
  ) {
    this.#bounds = [...buckets].sort((a, b) => a - b)
    for (const registry of registers) registry.registerMetric(this as unknown as Metric)
  }

  /** The series of these label values (in labelNames' order), made on first use: keep it. */
  series (...values: string[]): HistogramSeries {
    const key = values.join('\0')
    let series = this.#series.get(key)
    if (!series) {
      series = new HistogramSeries(Object.fromEntries(this.labelNames.map((n, i) => [n, values[i] ?? ''])), this.#bounds)
      this.#series.set(key, series)
    }
    return series
  }

  /** What prom-client's Histogram gives the registry: per series its cumulative buckets, then _sum and _count. */
  async getForPromString () {
    const values: Sample[] = []
    const bucket = `${this.name}_bucket`
    for (const series of this.#series.values()) {
      const sharedLabels = series.labels
      let cumulative = 0
      for (let i = 0; i < this.#bounds.length; i++) {
        cumulative += series.counts[i]!
        values.push({ labels: { le: this.#bounds[i]! }, sharedLabels, value: cumulative, metricName: bucket, exemplar: null })
      }
      values.push(
        { labels: { le: '+Inf' }, sharedLabels, value: series.count, metricName: bucket, exemplar: null },
        { labels: {}, sharedLabels, value: series.sum, metricName: `${this.name}_sum`, exemplar: undefined },
        { labels: {}, sharedLabels, value: series.count, metricName: `${this.name}_count`, exemplar: undefined }
      )
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator }
  }

  /** As prom-client's Histogram.get(): each sample's labels with the series' own. */
  async get () {
    const data = await this.getForPromString()
    return { ...data, values: data.values.map(({ labels, sharedLabels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } })) }
  }

  reset (): void {
    for (const series of this.#series.values()) {
      series.counts.fill(0)
      series.sum = 0
      series.count = 0
    }
  }
}
