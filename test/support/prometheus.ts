// A strict reader of the Prometheus text exposition format (0.0.4), as a scraper reads /metrics:
// every line is a HELP, a TYPE or a sample of a declared family (a histogram's _bucket, _sum and
// _count included), label values unescaped; anything else is an error naming the line.
export interface Sample {
  /** The sample's own name (e.g. x_bucket, x_sum). */
  name: string
  labels: Record<string, string>
  value: number
}

export interface Family {
  name: string
  help: string
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'
  samples: Sample[]
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*'
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`)
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/
const SUFFIXES: Record<Family['type'], string[]> = {
  counter: [''],
  gauge: [''],
  untyped: [''],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count']
}

const unescape = (v: string) => v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))

function labelsOf (text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {}
  let rest = text
  while (rest !== '') {
    const m = LABEL.exec(rest)
    if (!m) throw new Error(`bad labels in: ${line}`)
    if (m[1]! in labels) throw new Error(`label ${m[1]} twice in: ${line}`)
    labels[m[1]!] = unescape(m[2]!)
    rest = rest.slice(m[0].length)
  }
  return labels
}

function number (text: string, line: string): number {
  // As Prometheus reads them (Go's ParseFloat): Inf and NaN in any case (prom-client writes "Nan").
  if (/^\+?inf$/i.test(text)) return Infinity
  if (/^-inf$/i.test(text)) return -Infinity
  if (/^nan$/i.test(text)) return NaN
  const n = Number(text)
  if (text === '' || Number.isNaN(n)) throw new Error(`bad value in: ${line}`)
  return n
}

export function parsePrometheus (text: string): Map<string, Family> {
  const families = new Map<string, Family>()
  const familyOf = (sample: string): Family | undefined => {
    for (const f of families.values()) if (SUFFIXES[f.type].some((s) => f.name + s === sample)) return f
    return undefined
  }
  for (const line of text.split('\n')) {
    if (line === '') continue
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, 'HELP' | 'TYPE', string, string]
      const family = families.get(name) ?? { name, help: '', type: 'untyped' as const, samples: [] }
      if (kind === 'HELP') family.help = unescape(rest)
      else if (rest in SUFFIXES) family.type = rest as Family['type']
      else throw new Error(`bad type in: ${line}`)
      families.set(name, family)
      continue
    }
    if (line.startsWith('#')) continue
    const m = SAMPLE.exec(line)
    if (!m) throw new Error(`not a sample: ${line}`)
    const family = familyOf(m[1]!)
    if (!family) throw new Error(`a sample of no declared family: ${line}`)
    family.samples.push({ name: m[1]!, labels: labelsOf(m[2] ?? '', line), value: number(m[3]!, line) })
  }
  return families
}

/** The value of the sample named `name` (a family's own or a suffixed one) whose labels include `labels`. */
export function valueOf (families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families.values()) {
    const s = f.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))
    if (s) return s.value
  }
  return undefined
}
