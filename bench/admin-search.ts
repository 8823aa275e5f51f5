// How fast the admin list stays over many users (issue 23): fills a PostgreSQL database of its own
// with 100,000 users (names, e-mails and dates of several kinds), then times GET /api/admin/users/
// through the app for searches of each field, filters, orderings and pages, and shows the plan
// PostgreSQL chooses for a search. A measurement, not a test: nothing here can fail but the setup.
//
//   npm run bench:admin-search [-- --users 100000 --repeat 30]
//   BENCH_ADMIN_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/auth_bench_admin)
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../plugins/app/config/index.js'
import { ensureDatabase, withClient } from './database.js'
import { distRoot, resultsDir } from './options.js'

const { values } = parseArgs({ options: { users: { type: 'string' }, repeat: { type: 'string' } } })
const USERS = Number(values.users ?? 100_000)
const REPEAT = Number(values.repeat ?? 30)
const url = process.env.BENCH_ADMIN_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/auth_bench_admin'

mkdirSync(resultsDir, { recursive: true })
const stamp = new Date().toISOString().replace(/[:.]/g, '-')
const log = createWriteStream(join(resultsDir, `admin-search-${stamp}.log`))
const say = (line: string) => {
  console.log(line)
  log.write(line + '\n')
}

await ensureDatabase(url, distRoot, log, say)
// Users of several kinds: first and last names from short lists, usernames and e-mails that hold
// them and a number, domains, three years of sign-ups, a third never signed in, a few staff.
const firsts = ['Ada', 'Grace', 'Alan', 'Barbara', 'Edsger', 'Margaret', 'Linus', 'Donald', 'Radia', 'Ken', 'Frances', 'John', 'Mary', 'Dennis', 'Sophie', 'Tim']
const lasts = ['Lovelace', 'Hopper', 'Turing', 'Liskov', 'Dijkstra', 'Hamilton', 'Torvalds', 'Knuth', 'Perlman', 'Thompson', 'Allen', 'Backus', 'Smith', 'Ritchie', 'Wilson', 'Lee']
const domains = ['example.com', 'example.org', 'mail.example.net', 'corp.example']
const started = Date.now()
await withClient(url, (db) =>
  db.query(
    `INSERT INTO users (username, username_lower, email, email_lower, password_hash, first_name, last_name, is_active, is_staff, date_joined, last_login)
     SELECT u, lower(u), e, lower(e), 'x', f, l, i % 20 <> 0, i % 5000 = 0,
            now() - (i % 1096) * interval '1 day' - (i % 86400) * interval '1 second',
            CASE WHEN i % 3 = 0 THEN NULL ELSE now() - (i % 90) * interval '1 day' END
       FROM (SELECT i, ($1::text[])[1 + i % 16] AS f, ($2::text[])[1 + (i / 16) % 16] AS l, ($3::text[])[1 + i % 4] AS d FROM generate_series(1, $4::int) AS i) s,
            LATERAL (SELECT lower(f) || '_' || lower(l) || i AS u) n,
            LATERAL (SELECT lower(f) || '.' || lower(l) || i || '@' || d AS e) m`,
    [firsts, lasts, domains, USERS]
  )
)
await withClient(url, (db) => db.query('ANALYZE users'))
say(`${USERS.toLocaleString('en')} users inserted and analysed in ${((Date.now() - started) / 1000).toFixed(1)} s`)

const app = await buildApp(
  loadConfig({ ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: url, TOKEN_STORE: 'database', BCRYPT_COST: '4', RATE_LIMIT_ENABLED: 'false', JWT_SECRET: 'admin-search-bench-secret-of-at-least-32-bytes', DATA_DIR: join(resultsDir, '.admin-search-data') })
)
try {
  const password = 'Bench-Passphrase-1!'
  const admin = await app.users.create({ username: `bench_admin_${stamp.toLowerCase()}`, email: `bench-admin-${stamp.toLowerCase()}@example.com`, passwordHash: await app.passwords.hash(password), superuser: true })
  const login = await app.inject({ method: 'POST', url: '/api/auth/login/', payload: { username: admin.username, password } })
  const authorization = `Bearer ${login.json().access as string}`

  const cases: Array<[string, string]> = [
    ['one user by username fragment', 'search=liskov12345'],
    ['one user by e-mail, any case', 'search=KEN.LISKOV12345%40EXAMPLE.ORG'],
    ['a last name (1/16 of users)', 'search=dijkstra'],
    ['first and last name (two words)', 'search=ada+lovelace'],
    ['an e-mail domain (1/4 of users)', 'search=corp.example'],
    ['a word nobody has', 'search=zzyzx'],
    ['two characters (no trigram)', 'search=zq'],
    ['staff only', 'is_staff=true'],
    ['inactive, newest first', 'is_active=false&ordering=-date_joined'],
    ['everyone by username (default)', ''],
    ['everyone, newest first', 'ordering=-date_joined'],
    ['everyone, latest login first', 'ordering=-last_login'],
    ['page 100 by username', 'page=100'],
    ['page 2,500 of 20, newest first', 'ordering=-date_joined&page=2500'],
    ['page size 100, search', 'search=smith&page_size=100']
  ]
  const rows: Array<{ case: string; query: string; count: number; p50: number; p95: number; max: number }> = []
  for (const [name, query] of cases) {
    const times: number[] = []
    let count = 0
    for (let i = 0; i < REPEAT + 3; i++) {
      const t0 = process.hrtime.bigint()
      const res = await app.inject({ method: 'GET', url: `/api/admin/users/?${query}`, headers: { authorization } })
      const ms = Number(process.hrtime.bigint() - t0) / 1e6
      if (res.statusCode !== 200) throw new Error(`${query}: ${res.statusCode} ${res.body}`)
      count = res.json().count as number
      if (i >= 3) times.push(ms) // the first few warm the caches
    }
    times.sort((a, b) => a - b)
    const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!
    rows.push({ case: name, query, count, p50: at(0.5), p95: at(0.95), max: times[times.length - 1]! })
  }
  say(`\nGET /api/admin/users/ over ${USERS.toLocaleString('en')} users, ${REPEAT} requests each, through the app (count + page in one transaction):\n`)
  say('| case | query | count | p50 ms | p95 ms | max ms |')
  say('|---|---|---|---|---|---|')
  for (const r of rows) say(`| ${r.case} | \`${r.query || '(none)'}\` | ${r.count.toLocaleString('en')} | ${r.p50.toFixed(1)} | ${r.p95.toFixed(1)} | ${r.max.toFixed(1)} |`)

  // The plan of one search, as the repository asks it (LIKE on the lower-cased text of the four fields).
  const plan = await withClient(url, async (db) =>
    (await db.query('EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT id FROM users WHERE lower(username || \' \' || email || \' \' || first_name || \' \' || last_name) LIKE lower($1) ORDER BY username, id LIMIT 20', ['%liskov12345%'])).rows.map((r: Record<string, string>) => r['QUERY PLAN'])
  )
  say('\nPlan of a search (EXPLAIN ANALYZE):\n' + plan.map((l) => '    ' + l).join('\n'))
  writeFileSync(join(resultsDir, `admin-search-${stamp}.json`), JSON.stringify({ users: USERS, repeat: REPEAT, rows, plan }, null, 2))
} finally {
  await app.close()
  // The bench's users go; the database stays for the next run.
  await withClient(url, (db) => db.query('TRUNCATE users CASCADE'))
  log.end()
}
