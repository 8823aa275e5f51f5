// The passwords plugin: bcrypt in the worker pool (hash, verify, dummy hash, rehash, the
// 72-byte rule) and Django's validators with Django's messages and order.
import { execFile } from 'node:child_process'
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import bcrypt from 'bcryptjs'
import configPlugin from '../../../../plugins/app/config/index.js'
import passwordsPlugin from '../../../../plugins/app/passwords/index.js'
import metricsPlugin from '../../../../plugins/external/metrics.js'
import { loadConfig } from '../../../../plugins/app/config/index.js'
import { loadCommonPasswords } from '../../../../plugins/app/passwords/common-passwords.js'
import { compileLikeTsc, projectRoot as root } from '../../../support/dist.js'
import { withPlugins } from '../../../support/plugins.js'
import { compareTimings } from '../../../support/timing.js'
import { quickRatio } from '../../../../plugins/app/passwords/validators.js'

const TOO_SHORT = 'This password is too short. It must contain at least 8 characters.'
const TOO_COMMON = 'This password is too common.'
const NUMERIC = 'This password is entirely numeric.'
const TOO_LONG = 'This password is too long. It must contain at most 72 bytes.'
const similar = (name: string) => `The password is too similar to the ${name}.`

/** The parts of a tap Test that build() uses. */
interface TestLike {
  testdirName: string
  teardown(fn: () => unknown): void
}

async function build (t: TestLike, cost = 4): Promise<FastifyInstance> {
  const config = loadConfig({
    BCRYPT_COST: String(cost),
    PASSWORD_WORKERS: '2',
    JWT_SECRET: 'a-test-secret-that-is-at-least-32-bytes-long',
    DATA_DIR: t.testdirName,
    LOG_LEVEL: 'silent'
  })
  return (await withPlugins(t, [[configPlugin, { config }], metricsPlugin, passwordsPlugin])).app
}

t.test('the common password list is Django 5.2 list, about 20,000 entries', async (t) => {
  const list = loadCommonPasswords()
  t.equal(list.size, 19640, 'Django ships 20,000 passwords, 19,640 after lower-casing and de-duplication')
  for (const p of ['password', '123456', 'qwerty', 'iloveyou', 'fallen_angel', 'lilmama12']) t.ok(list.has(p), p)
  t.notOk(list.has(''), 'no empty entry from the final newline')
  for (const p of list) {
    if (p !== p.toLowerCase() || p !== p.trim()) t.fail(`entry not lower-cased and stripped: ${JSON.stringify(p)}`)
  }
})

t.test('validators: messages, order and boundaries', async (t) => {
  const app = await build(t)
  const v = app.passwords.validate

  t.same(v('Tr0ub4dor&3xyz'), [], 'a good password has no errors')
  t.same(v('Tr0ub4dor&3xyz', { username: 'john_doe', email: 'john@example.com', first_name: 'John', last_name: 'Doe' }), [])

  t.test('minimum length counts code points, 8 is enough', async (t) => {
    t.same(v('aZ3$kq9'), [TOO_SHORT], '7 characters')
    t.same(v('aZ3$kq9!'), [], '8 characters')
    t.same(v('😀😀😀😀😀😀😀'), [TOO_SHORT], '7 astral characters (14 UTF-16 units) are 7 characters')
    t.same(v('😀😀😀😀😀😀😀😀'), [], '8 astral characters')
    t.same(v(''), [TOO_SHORT])
  })

  t.test('common passwords: lower-cased and stripped like Django', async (t) => {
    t.same(v('password'), [TOO_COMMON])
    t.same(v('PassWord'), [TOO_COMMON], 'case does not matter')
    t.same(v('  iloveyou \t'), [TOO_COMMON], 'surrounding white space does not matter')
    t.same(v('\u00a0iloveyou\u0085'), [TOO_COMMON], "Python's white space (NBSP, NEL) is stripped too")
    t.same(v('\ufeffiloveyou'), [], "U+FEFF is not white space for Python's strip()")
    t.same(v('fallen_angel'), [TOO_COMMON], 'the last entry of the list')
    t.same(v('qwerty'), [TOO_SHORT, TOO_COMMON], 'short and common: both, length first')
  })

  t.test('entirely numeric, as Python isdigit()', async (t) => {
    t.same(v('12345678'), [TOO_COMMON, NUMERIC], 'a common numeric password gets both, in that order')
    t.same(v('93810572946'), [NUMERIC])
    t.same(v('٣٣٣٣٩٨٧٦٥٤'), [NUMERIC], 'Arabic-Indic digits are digits')
    t.same(v('²³¹⁴⁵⁶⁷⁸⁹'), [NUMERIC], 'superscripts are digits for isdigit()')
    t.same(v('½½½½½½½½'), [], 'fractions are not digits')
    t.same(v('9381057294a'), [])
    t.same(v('123'), [TOO_SHORT, TOO_COMMON, NUMERIC])
  })

  t.test('72 bytes in UTF-8 at most, refused rather than truncated, checked last', async (t) => {
    const ascii72 = 'Zq7!'.repeat(18)
    t.equal(Buffer.byteLength(ascii72), 72)
    t.same(v(ascii72), [])
    t.same(v(ascii72 + 'x'), [TOO_LONG])
    const euro72 = '€'.repeat(24) // 3 bytes each: 24 characters, 72 bytes
    t.same(v(euro72), [], '24 three-byte characters are exactly 72 bytes')
    t.same(v(euro72 + 'é'), [TOO_LONG], 'one two-byte character more is 74 bytes')
    const mixed73 = 'é'.repeat(36) + 'a' // 73 bytes in 37 characters
    t.equal(Buffer.byteLength(mixed73), 73)
    t.same(v(mixed73), [TOO_LONG])
    t.same(v('😀'.repeat(18)), [], '18 four-byte characters are 72 bytes')
    t.same(v('😀'.repeat(18) + 'a'), [TOO_LONG])
    t.same(v('1'.repeat(73)), [NUMERIC, TOO_LONG], 'the 72-byte rule comes after Django’s four')
  })

  t.test('similarity to username, email parts and names', async (t) => {
    const user = { username: 'john_doe', email: 'jsmith42@example.com', first_name: 'Alexander', last_name: 'Vandermeer' }
    t.same(v('john_doe1', user), [similar('username')])
    t.same(v('JOHN_DOE', user), [similar('username')], 'compared lower-cased')
    t.same(v('jsmith42xyz', user), [similar('email address')], 'the local part of the email')
    t.same(v('example.com', user), [similar('email address')], 'the domain part')
    t.same(v('exampl3!', user), [similar('email address')], 'one part: "example"')
    t.same(v('alexander9', user), [similar('first name')])
    t.same(v('Vandermeer!', user), [similar('last name')])
    t.same(v('xandrel', user), [similar('first name'), TOO_SHORT], 'similarity comes first')
    t.same(v('john_doe1', { ...user, username: undefined }), [], 'missing attributes are skipped')
    t.same(v('john_doe1', { username: '' }), [])
    t.same(v('john_doe1'), [], 'no user, no similarity check')

    // Only the first attribute that matches is reported, in Django's order (username, first, last, email).
    t.same(v('samesame1', { username: 'samesame', email: 'samesame@x.io', first_name: 'samesame' }), [similar('username')])
    t.same(v('samesame1', { email: 'samesame@x.io', last_name: 'samesame' }), [similar('last name')])

    // exceeds_maximum_length_ratio: a value ten times shorter than the password is not compared.
    t.same(v('ab' + 'Qz7$Lm9#Wp'.repeat(2), { first_name: 'ab' }), [])
    // quick_ratio is a multiset measure: an anagram of the username counts as similar.
    t.same(v('eod_nhoj', { username: 'john_doe' }), [similar('username')])
  })

  t.test('quickRatio matches difflib', async (t) => {
    // Values from CPython: SequenceMatcher(a=a, b=b).quick_ratio()
    t.equal(quickRatio('abcd', 'bcde'), 0.75)
    t.equal(quickRatio('', ''), 1)
    t.equal(quickRatio('a', ''), 0)
    t.equal(quickRatio('aab', 'abb'), 2 * 2 / 6)
    t.equal(quickRatio('A', 'A'.repeat(10)), 2 / 11)
  })
})

t.test('hash and verify in the worker pool', async (t) => {
  const app = await build(t, 4)
  const pw = app.passwords

  const hash = await pw.hash('correct horse battery staple')
  t.match(hash, /^\$2b\$04\$[./A-Za-z0-9]{53}$/, 'a bcrypt hash at the configured cost')
  t.ok(bcrypt.compareSync('correct horse battery staple', hash), 'a standard bcrypt hash')
  t.not(await pw.hash('correct horse battery staple'), hash, 'salted: two hashes differ')
  t.equal(await pw.verify('correct horse battery staple', hash), true)
  t.equal(await pw.verify('correct horse battery stapler', hash), false)
  t.equal(await pw.verify('', hash), false)
  t.equal(await pw.verify('correct horse battery staple', null), false, 'unknown user')
  t.equal(await pw.verify('anything', 'not-a-bcrypt-hash'), false, 'an unusable stored value')
  t.equal(await pw.verify('x', '!' + 'a'.repeat(59)), false, 'a 60-character non-bcrypt value')

  // A hash from another bcrypt implementation (2a prefix, cost 5) verifies.
  const foreign = bcrypt.hashSync('from elsewhere', bcrypt.genSaltSync(5)).replace(/^\$2b\$/, '$2a$')
  t.equal(await pw.verify('from elsewhere', foreign), true)

  const unicode = 'pässwörd-😀-密码-€'
  t.equal(await pw.verify(unicode, await pw.hash(unicode)), true, 'multibyte passwords round-trip')

  t.test('72 bytes: never truncated', async (t) => {
    const p72 = 'Zq7!'.repeat(18)
    const h72 = await pw.hash(p72)
    t.equal(await pw.verify(p72, h72), true, 'exactly 72 bytes is fine')
    t.ok(bcrypt.compareSync(p72 + 'tail', h72), 'plain bcrypt would accept a longer password with the same start')
    t.equal(await pw.verify(p72 + 'tail', h72), false, 'verify refuses it')
    await t.rejects(pw.hash(p72 + 'x'), RangeError, 'hash refuses 73 bytes')
    await t.rejects(pw.hash('€'.repeat(24) + 'é'), RangeError, 'and 74 bytes of multibyte characters')
  })
})

t.test('needsRehash compares the cost with config.bcryptCost', async (t) => {
  const app4 = await build(t, 4)
  const app5 = await build(t, 5)
  const h4 = await app4.passwords.hash('some password 1')
  const h5 = await app5.passwords.hash('some password 1')
  t.match(h5, /^\$2b\$05\$/)
  t.equal(app4.passwords.needsRehash(h4), false)
  t.equal(app4.passwords.needsRehash(h5), true)
  t.equal(app5.passwords.needsRehash(h4), true)
  t.equal(app5.passwords.needsRehash(h5), false)
  t.equal(app4.passwords.needsRehash(h4.replace(/^\$2b\$/, '$2a$')), false, 'the 2a/2b variant alone does not matter')
  t.equal(app4.passwords.needsRehash('pbkdf2_sha256$600000$salt$hash'), true, 'not bcrypt at all')
  // The rehash flow used at login: verify with the old cost, rehash at the new one.
  t.equal(await app5.passwords.verify('some password 1', h4), true, 'an old-cost hash still verifies')
})

t.test('a wrong password against an older, cheaper hash costs the configured cost (harden_runtime)', async (t) => {
  const app = await build(t, 10)
  const old = bcrypt.hashSync('the right password 1', 4)
  /** How many hardening tasks the pool ran (the bcrypt work histogram, by op). */
  const hardened = async () => {
    const { values } = await app.metrics.registry.getSingleMetric('auth_bcrypt_duration_seconds')!.get()
    return values.find((v) => (v as { metricName?: string }).metricName === 'auth_bcrypt_duration_seconds_count' && v.labels.op === 'harden')?.value ?? 0
  }
  t.equal(await app.passwords.verify('the right password 1', old), true, 'the right password verifies')
  t.equal(await hardened(), 0, 'and needs no hardening (the login re-hashes it)')
  t.equal(await app.passwords.verify('a wrong password 1', old), false)
  t.equal(await hardened(), 1, 'a wrong one is hardened')
  t.equal(await app.passwords.verify('a wrong password 1', bcrypt.hashSync('x', 10)), false)
  t.equal(await hardened(), 1, 'not when the hash has the configured cost')
  // The time of a failed login: an account with an old hash, against a name that designates nobody.
  const timing = await compareTimings(() => app.passwords.verify('a wrong password 1', old), () => app.passwords.verify('a wrong password 1', null), 12)
  t.ok(timing.same, `the same band: ${timing.summary}`)
})

t.test('the event loop keeps running during a cost-12 hash', async (t) => {
  const app = await build(t, 12)
  let ticks = 0
  const timer = setInterval(() => ticks++, 1)
  try {
    const hash = await app.passwords.hash('event loop stays free')
    t.match(hash, /^\$2b\$12\$/)
    t.ok(ticks > 0, `the interval ticked ${ticks} times while hashing`)
    ticks = 0
    t.equal(await app.passwords.verify('event loop stays free', hash), true)
    t.ok(ticks > 0, `and ${ticks} times while verifying`)
    ticks = 0
    t.equal(await app.passwords.verify('event loop stays free', null), false)
    t.ok(ticks > 0, `and ${ticks} times while comparing with the dummy hash`)
  } finally {
    clearInterval(timer)
  }
})

t.test('the pool and the list load from compiled JavaScript without tsx', async (t) => {
  // Lay the modules out as `tsc` does in dist/ (dist/plugins/app/passwords) beside a
  // plugins/app/passwords holding only the data file, and run them with plain node (no loader).
  const dir = t.testdir({})
  const folder = 'plugins/app/passwords'
  const sources = [...['index.ts', 'worker.ts', 'validators.ts', 'common-passwords.ts', 'breached.ts'].map((f) => `${folder}/${f}`), 'plugins/external/throttled-warnings.ts']
  compileLikeTsc(dir, sources)
  mkdirSync(join(dir, folder), { recursive: true })
  copyFileSync(join(root, folder, 'common-passwords.txt.gz'), join(dir, folder, 'common-passwords.txt.gz'))
  writeFileSync(
    join(dir, 'dist', 'run.js'),
    `import Fastify from 'fastify'
import fp from 'fastify-plugin'
import passwords from './plugins/app/passwords/index.js'
import { Registry } from 'prom-client'
const app = Fastify()
await app.register(fp(async (f) => f.decorate('config', { bcryptCost: 4, passwordWorkers: 1 }), { name: 'config' }))
await app.register(fp(async (f) => f.decorate('metrics', { registry: new Registry() }), { name: 'metrics' }))
await app.register(passwords)
await app.ready()
const hash = await app.passwords.hash('compiled pool works')
const out = {
  hash,
  ok: await app.passwords.verify('compiled pool works', hash),
  wrong: await app.passwords.verify('compiled pool fails', hash),
  unknown: await app.passwords.verify('x', null),
  errors: app.passwords.validate('password')
}
await app.close()
console.log(JSON.stringify(out))
`
  )
  // No loader: NODE_OPTIONS would hand tap's tsx loader to the child. fastify & co. resolve
  // from the project's node_modules, since tap's test dirs live inside the project (.tap/).
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  const { stdout } = await promisify(execFile)(process.execPath, [join(dir, 'dist', 'run.js')], { env, cwd: dir })
  const out = JSON.parse(stdout.trim().split('\n').pop()!)
  t.match(out.hash, /^\$2b\$04\$/)
  t.equal(out.ok, true)
  t.equal(out.wrong, false)
  t.equal(out.unknown, false)
  t.same(out.errors, [TOO_COMMON])
})
