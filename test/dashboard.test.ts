// The Grafana dashboard (docs/grafana/auth-service.json) against what the app really exports: it
// is read as Grafana imports it (title, uid, schema version, panels with targets, the datasource
// and instance variables), every metric name of every PromQL expression is taken out of it, and
// each must be a series of /metrics, scraped from a real app after a register, a login and a
// refresh and read by the strict reader (test/support/prometheus.ts): a family the app declares
// (a histogram only by its _bucket, _sum or _count), label names the family has, and the values
// of the labels whose every value exists from the start (labels are checked where the family has
// a series: auth_dependency_errors_total has none before an outage). A panel on a metric the app does not
// export (renamed, misspelt, never registered) fails here instead of showing "No data".
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { build, call, login, register } from './helper.js'
import { parsePrometheus, type Family } from './support/prometheus.js'
import { AUDIT_EVENTS } from '../plugins/app/audit.js'

/** Grafana's datasource variable, as the dashboard names it. */
// eslint-disable-next-line no-template-curly-in-string -- Grafana's syntax, not a template literal
const DATASOURCE = '${datasource}'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const DASHBOARD = join(root, 'docs', 'grafana', 'auth-service.json')

interface Target {
  refId?: string
  expr?: string
  legendFormat?: string
  datasource?: { type?: string; uid?: string }
}
interface Panel {
  id?: number
  type?: string
  title?: string
  gridPos?: { x: number; y: number; w: number; h: number }
  datasource?: { type?: string; uid?: string }
  targets?: Target[]
  /** A collapsed row holds its panels. */
  panels?: Panel[]
}
interface Variable {
  name?: string
  type?: string
  query?: string | { query?: string }
  definition?: string
  datasource?: { type?: string; uid?: string }
}
interface Dashboard {
  title?: unknown
  uid?: unknown
  schemaVersion?: unknown
  panels?: Panel[]
  templating?: { list?: Variable[] }
}

/** One PromQL expression of the dashboard, and where it is. */
interface Query {
  where: string
  expr: string
  legend?: string
}

/** Labels Prometheus adds to every scraped series: not the app's to export. */
const TARGET_LABELS = new Set(['instance', 'job'])
/** Labels whose every value is a series from the start (AUDIT_EVENTS, the two dependencies, the bcrypt ops): a value no series has is a typo. */
const CLOSED_LABELS = new Set(['event', 'outcome', 'dependency', 'op'])
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan', 'atan2'])
const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*'

const stripStrings = (expr: string) => expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')

/**
 * The metric names an expression selects: every identifier that is not a function or aggregation
 * (followed by "("), a keyword, a label (inside {...} or a by/without/on/ignoring/group_x list),
 * a duration ([...]), a number or a Grafana variable ($x, ${x}).
 */
export function metricNames (expr: string): string[] {
  const bare = stripStrings(expr)
    .replace(/\$(\{[^}]*\}|\w+)/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' ')
  const names = [...bare.matchAll(new RegExp(`(?<![\\w.:])(${NAME})(?![\\w:])(?!\\s*\\()`, 'g'))].map((m) => m[1]!)
  return [...new Set(names.filter((n) => !KEYWORDS.has(n.toLowerCase())))]
}

/** The label matchers of each selector `name{...}` of an expression. */
function selectors (expr: string): Array<{ metric: string; matchers: Array<{ label: string; op: string; value: string }> }> {
  const out = []
  for (const m of expr.matchAll(new RegExp(`(?<![\\w.:])(${NAME})\\s*\\{((?:[^}"]|"(?:[^"\\\\]|\\\\.)*")*)\\}`, 'g'))) {
    const matchers = [...m[2]!.matchAll(/([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)].map((x) => ({ label: x[1]!, op: x[2]!, value: x[3]! }))
    out.push({ metric: m[1]!, matchers })
  }
  return out
}

/** The labels named in by (...), without (...), on (...), ignoring (...) and group_x (...). */
function groupingLabels (expr: string): string[] {
  const lists = [...stripStrings(expr).matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/gi)].map((m) => m[1]!)
  return lists.flatMap((l) => l.split(',').map((s) => s.trim()).filter(Boolean))
}

/** label_values(metric, label) or label_values(label): the variable's own query, as PromQL parts. */
function variableQuery (v: Variable): { metric: string | null; label: string } | null {
  const text = typeof v.query === 'string' ? v.query : (v.query?.query ?? v.definition ?? '')
  const m = /^\s*label_values\(\s*(?:(.+?)\s*,\s*)?([a-zA-Z_]\w*)\s*\)\s*$/.exec(text)
  return m ? { metric: m[1] ?? null, label: m[2]! } : null
}

/** Every expression of the dashboard: the targets of every panel (those of collapsed rows too) and the query variables. */
export function queriesOf (d: Dashboard): Query[] {
  const queries: Query[] = []
  const visit = (panels: Panel[]) => {
    for (const p of panels) {
      for (const target of p.targets ?? []) {
        if (target.expr !== undefined) queries.push({ where: `panel "${p.title}" ${target.refId ?? ''}`.trim(), expr: target.expr, legend: target.legendFormat })
      }
      visit(p.panels ?? [])
    }
  }
  visit(d.panels ?? [])
  for (const v of d.templating?.list ?? []) {
    const q = variableQuery(v)
    if (q?.metric) queries.push({ where: `variable $${v.name}`, expr: q.metric, legend: `{{${q.label}}}` })
  }
  return queries
}

/** The family a sample name belongs to (a histogram by _bucket/_sum/_count only), or undefined. */
function familyOf (families: Map<string, Family>, name: string): Family | undefined {
  const own = families.get(name)
  if (own && own.type !== 'histogram') return own
  const m = /^(.*)(_bucket|_sum|_count)$/.exec(name)
  const f = m ? families.get(m[1]!) : undefined
  if (f && (f.type === 'histogram' || (f.type === 'summary' && m![2] !== '_bucket'))) return f
  return undefined
}

/** What each query asks of /metrics that it does not have: one line per problem. */
export function problemsOf (queries: Query[], families: Map<string, Family>): string[] {
  const problems: string[] = []
  for (const { where, expr, legend } of queries) {
    const names = metricNames(expr)
    if (names.length === 0) problems.push(`${where}: no metric in ${expr}`)
    const labels = new Set(TARGET_LABELS)
    // A labelled family with no series yet (auth_dependency_errors_total before any outage) shows
    // only its HELP and TYPE: its label names cannot be known from /metrics.
    let unknownLabels = false
    for (const name of names) {
      const family = familyOf(families, name)
      if (!family) {
        const base = name.replace(/_(bucket|sum|count)$/, '')
        const hint = families.get(name)?.type === 'histogram' ? ` (a histogram: ${name}_bucket, _sum or _count)` : families.has(base) ? ` (${base} is a ${families.get(base)!.type})` : ''
        problems.push(`${where}: ${name} is not exported by the app${hint}`)
        continue
      }
      const samples = family.samples.filter((s) => s.name === name)
      if (samples.length === 0) unknownLabels = true
      for (const s of samples) for (const l of Object.keys(s.labels)) labels.add(l)
    }
    for (const { metric, matchers } of selectors(expr)) {
      const family = familyOf(families, metric)
      if (!family || family.samples.length === 0) continue
      const samples = family.samples.filter((s) => s.name === metric)
      for (const { label, op, value } of matchers) {
        if (TARGET_LABELS.has(label)) continue
        if (!samples.some((s) => label in s.labels)) {
          problems.push(`${where}: ${metric} has no label "${label}"`)
          continue
        }
        if (op === '=' && CLOSED_LABELS.has(label) && !value.includes('$') && !samples.some((s) => s.labels[label] === value)) {
          problems.push(`${where}: ${metric} has no series with ${label}="${value}"`)
        }
      }
    }
    const used = [...groupingLabels(expr), ...[...(legend ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]!)]
    if (!unknownLabels) for (const label of new Set(used)) if (!labels.has(label)) problems.push(`${where}: label "${label}" is on none of ${names.join(', ')}`)
  }
  return problems
}

t.test('the dashboard is an importable Grafana dashboard', async (t) => {
  const d = JSON.parse(await readFile(DASHBOARD, 'utf8')) as Dashboard
  t.type(d.title, 'string')
  t.ok(String(d.title).length > 0, 'a title')
  t.match(d.uid, /^[a-zA-Z0-9_-]{1,40}$/, 'a uid Grafana accepts (at most 40 characters)')
  t.ok(typeof d.schemaVersion === 'number' && d.schemaVersion >= 36, `a recent schemaVersion (${d.schemaVersion})`)

  const variables = d.templating?.list ?? []
  const datasource = variables.find((v) => v.name === 'datasource')
  t.equal(datasource?.type, 'datasource', 'a datasource variable')
  t.equal(datasource?.query, 'prometheus', 'of Prometheus data sources')
  const instance = variables.find((v) => v.name === 'instance')
  t.equal(instance?.type, 'query', 'an instance variable')
  t.equal(variableQuery(instance ?? {})?.label, 'instance', 'from label_values(..., instance)')
  t.equal(instance?.datasource?.uid, DATASOURCE)

  const panels = d.panels ?? []
  const all = panels.flatMap((p) => [p, ...(p.panels ?? [])])
  const graphs = all.filter((p) => p.type !== 'row')
  t.ok(graphs.length >= 10, `${graphs.length} panels`)
  const ids = all.map((p) => p.id)
  t.equal(new Set(ids).size, ids.length, 'panel ids are unique')
  for (const p of graphs) {
    t.ok(typeof p.type === 'string' && typeof p.title === 'string' && p.title !== '', `panel ${p.id}: a type and a title`)
    const g = p.gridPos
    t.ok(g && g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0 && g.y >= 0, `"${p.title}": inside the 24-column grid`)
    t.equal(p.datasource?.uid, DATASOURCE, `"${p.title}": the datasource variable`)
    t.ok((p.targets ?? []).length > 0, `"${p.title}": has targets`)
    for (const target of p.targets ?? []) {
      t.ok(target.refId && target.expr && target.expr.trim() !== '', `"${p.title}" ${target.refId}: a refId and an expression`)
      t.equal(target.datasource?.uid, DATASOURCE, `"${p.title}" ${target.refId}: the datasource variable`)
      t.match(target.expr, /instance=~"\$instance"/, `"${p.title}" ${target.refId}: filtered by $instance`)
    }
  }
})

t.test('the metric names are read out of PromQL', async (t) => {
  t.same(
    metricNames('histogram_quantile(0.99, sum by (le, route) (rate(auth_http_request_duration_seconds_bucket{instance=~"$instance", route!="a{b}"}[$__rate_interval])))'),
    ['auth_http_request_duration_seconds_bucket']
  )
  t.same(
    metricNames('sum(rate(a_total{x="1"}[5m] offset 1h)) / on (instance) group_left (job) clamp_min(sum(b_count), 1e-9) > 0 and bool c'),
    ['a_total', 'b_count', 'c']
  )
  t.same(metricNames('sum without (pod) (up)'), ['up'])
})

t.test('every metric of the dashboard is exported by the app', async (t) => {
  const d = JSON.parse(await readFile(DASHBOARD, 'utf8')) as Dashboard
  const queries = queriesOf(d)

  const { app } = await build(t, 'embedded')
  const user = await register(app)
  const session = await login(app, user.username)
  t.equal((await call(app, 'POST', '/api/token/refresh/', { body: { refresh: session.refresh } })).statusCode, 200)
  t.equal((await call(app, 'GET', '/api/protected-endpoint/', { access: user.access })).statusCode, 200)
  const res = await call(app, 'GET', '/metrics')
  t.equal(res.statusCode, 200)
  const families = parsePrometheus(res.body)

  const used = new Set(queries.flatMap((q) => metricNames(q.expr)))
  t.ok(used.size >= 10, `${queries.length} expressions use ${used.size} metrics: ${[...used].sort().join(', ')}`)
  t.same(problemsOf(queries, families), [], 'no panel uses a metric, a label or a label value the app does not export')

  // Every auth_ family the app exports has a panel.
  const covered = new Set([...used].map((n) => familyOf(families, n)?.name))
  const mine = [...families.keys()].filter((n) => n.startsWith('auth_'))
  t.same(mine.filter((n) => !covered.has(n)), [], `every auth_ family is on the dashboard (${mine.length})`)
  // Why event and outcome values can be checked: every pair of AUDIT_EVENTS is a series from the start.
  const events = families.get('auth_events_total')?.samples ?? []
  const pairs = Object.entries(AUDIT_EVENTS).flatMap(([event, outcomes]) => outcomes.map((outcome) => `${event} ${outcome}`))
  t.same(pairs.filter((p) => !events.some((s) => `${s.labels.event} ${s.labels.outcome}` === p)), [], `all ${pairs.length} event/outcome series exist`)

  // The check bites: a made-up metric, a histogram by its bare name, a label or value that is not there.
  t.same(
    problemsOf(
      [
        { where: 'made up', expr: 'sum(rate(auth_made_up_total{instance=~"$instance"}[5m]))' },
        { where: 'bare histogram', expr: 'rate(auth_bcrypt_wait_seconds[5m])' },
        { where: 'label typo', expr: 'sum by (outcome) (rate(auth_events_total{evnt="login"}[5m]))' },
        { where: 'value typo', expr: 'rate(auth_dependency_duration_seconds_count{dependency="token-store"}[5m])' },
        { where: 'grouping', expr: 'sum by (path) (rate(auth_http_request_duration_seconds_count[5m]))' },
        { where: 'legend', expr: 'auth_bcrypt_queue_depth', legend: '{{route}}' },
        { where: 'suffix of a counter', expr: 'auth_events_total_count' }
      ],
      families
    ),
    [
      'made up: auth_made_up_total is not exported by the app',
      'bare histogram: auth_bcrypt_wait_seconds is not exported by the app (a histogram: auth_bcrypt_wait_seconds_bucket, _sum or _count)',
      'label typo: auth_events_total has no label "evnt"',
      'value typo: auth_dependency_duration_seconds_count has no series with dependency="token-store"',
      'grouping: label "path" is on none of auth_http_request_duration_seconds_count',
      'legend: label "route" is on none of auth_bcrypt_queue_depth',
      'suffix of a counter: auth_events_total_count is not exported by the app (auth_events_total is a counter)'
    ],
    'a name, label or value the app does not export is reported'
  )
  // And the dashboard itself with a made-up panel added fails the same check.
  const broken: Dashboard = {
    ...d,
    panels: [...(d.panels ?? []), { id: 999, type: 'timeseries', title: 'Made up', targets: [{ refId: 'A', expr: 'sum(rate(auth_logins_total{instance=~"$instance"}[5m]))' }] }]
  }
  t.same(problemsOf(queriesOf(broken), families), ['panel "Made up" A: auth_logins_total is not exported by the app'])
})
