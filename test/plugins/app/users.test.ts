// The user repository on PostgreSQL and on embedded PGlite: lookups ignoring case, the database
// constraint deciding racing registrations, all-or-nothing create, login bookkeeping.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../../plugins/app/config/index.js'
import configPlugin from '../../../plugins/app/config/index.js'
import { dataMigrations } from '../../../plugins/app/data-migrations.js'
import prismaPlugin from '../../../plugins/external/prisma/index.js'
import metricsPlugin from '../../../plugins/external/metrics.js'
import outagesPlugin from '../../../plugins/app/outages.js'
import usersPlugin, { normalizeEmail, UniqueViolationError, type User } from '../../../plugins/app/users.js'
import { createTestDatabase, createTestDataDir } from '../../support/db.js'
import { withPlugins, type PluginEntry } from '../../support/plugins.js'

const SECRET = 'test-secret-that-is-at-least-32-bytes-long!!'
type Mode = 'postgres' | 'embedded'

/** A minimal app (config, prisma, users) on a database of its own; cleanup closes, then drops. */
async function buildUsersApp (mode: Mode): Promise<{ app: FastifyInstance; cleanup(): Promise<void> }> {
  const env: Record<string, string> = { NODE_ENV: 'test', LOG_LEVEL: 'silent', JWT_SECRET: SECRET }
  let dispose: () => Promise<void>
  if (mode === 'postgres') {
    const db = await createTestDatabase()
    env.DATABASE_URL = db.url
    env.DATA_DIR = join(tmpdir(), 'auth-unused')
    dispose = db.drop
  } else {
    const data = await createTestDataDir()
    env.DATA_DIR = data.dir
    dispose = data.cleanup
  }
  const plugins: PluginEntry[] = [[configPlugin, { config: loadConfig(env) }], metricsPlugin, outagesPlugin, [prismaPlugin, { dataMigrations }], usersPlugin]
  const { app } = await withPlugins(null, plugins).catch(async (err: unknown) => {
    await dispose()
    throw err
  })
  return {
    app,
    async cleanup () {
      await app.close()
      await dispose()
    }
  }
}

t.test('normalizeEmail lower-cases the domain only, like Django', async (t) => {
  t.equal(normalizeEmail('John.Doe@Example.COM'), 'John.Doe@example.com')
  t.equal(normalizeEmail(' a@B.c '), 'a@b.c')
  t.equal(normalizeEmail('odd@name@Host.IO'), 'odd@name@host.io')
  t.equal(normalizeEmail('no-at-sign'), 'no-at-sign')
})

for (const mode of ['postgres', 'embedded'] as const) {
  t.test(mode, async (t) => {
    let app!: FastifyInstance
    // A fresh database per subtest, so each one asserts the whole table.
    t.beforeEach(async (t) => {
      const built = await buildUsersApp(mode)
      app = built.app
      t.teardown(built.cleanup)
    })
    const rows = async (where: Record<string, unknown> = {}) =>
      app.prisma.user.findMany({ where, orderBy: { username: 'asc' } })

    t.test('pk: every user gets the next integer at creation, and a deleted user\'s is never given again', async (t) => {
      const make = (name: string) => app.users.create({ username: name, email: `${name}@example.com`, passwordHash: 'h', firstName: '', lastName: '' })
      const a = await make('pk_first')
      const b = await make('pk_second')
      t.ok(Number.isInteger(a.pk) && a.pk > 0, `an integer (${a.pk})`)
      t.ok(b.pk > a.pk, 'in order of creation')
      await app.users.delete(b.id)
      const c = await make('pk_third')
      t.ok(c.pk > b.pk, `not reused (${a.pk}, ${b.pk} deleted, then ${c.pk})`)
      t.equal((await app.users.findById(a.id))?.pk, a.pk, 'read back as stored')
      await app.users.delete(a.id)
      await app.users.delete(c.id)
    })

    t.test('create stores the user as entered and finds it ignoring case', async (t) => {
      const user = await app.users.create({
        username: 'John_Doe',
        email: 'John.Doe@Example.COM',
        passwordHash: 'hash-1',
        firstName: 'John',
        lastName: 'Doe'
      })
      t.match(user, {
        username: 'John_Doe',
        email: 'John.Doe@example.com',
        passwordHash: 'hash-1',
        firstName: 'John',
        lastName: 'Doe',
        isActive: true,
        lastLogin: null
      })
      t.match(user.id, /^[0-9a-f-]{36}$/)
      t.type(user.dateJoined, Date)
      const [row] = await rows()
      t.match(row, { id: user.id, username: 'John_Doe', usernameLower: 'john_doe', email: 'John.Doe@example.com', emailLower: 'john.doe@example.com' })

      for (const login of ['john_doe', 'JOHN_DOE', 'john.doe@example.com', 'JOHN.DOE@EXAMPLE.COM']) {
        t.equal((await app.users.findByLogin(login))?.id, user.id, `findByLogin(${login})`)
      }
      t.equal(await app.users.findByLogin('john'), null)
      t.equal((await app.users.findById(user.id))?.username, 'John_Doe')
      t.equal(await app.users.findById('00000000-0000-4000-8000-000000000000'), null)
      t.equal(await app.users.findById('not-a-uuid'), null, 'a malformed id is just not found')

      t.same(await app.users.taken('JOHN_doe', 'someone@else.io'), { username: true, email: false })
      t.same(await app.users.taken('someone', 'john.DOE@EXAMPLE.com'), { username: false, email: true })
      t.same(await app.users.taken('john_doe', 'john.doe@example.com'), { username: true, email: true })
      t.same(await app.users.taken('jane', 'jane@example.com'), { username: false, email: false })
    })

    t.test("a name with an @ designates the e-mail's owner, never another account's username", async (t) => {
      // a's username (taken before the rule) is b's e-mail: the e-mail's owner wins.
      const a = await app.users.create({ username: 'b@x.io', email: 'a@x.io', passwordHash: 'h' })
      t.equal((await app.users.findByLogin('B@x.io'))?.id, a.id, 'a legacy username with an @ works while no account has that e-mail')
      const b = await app.users.create({ username: 'bee', email: 'B@X.IO', passwordHash: 'h' })
      t.equal((await app.users.findByLogin('B@x.io'))?.id, b.id, "then it signs in the e-mail's owner")
      t.equal((await app.users.findByLogin('A@x.io'))?.id, a.id)
      t.equal((await app.users.findByLogin('BEE'))?.id, b.id)
      t.equal(await app.users.findByLogin('a'), null, 'a name without an @ is a username only')
    })

    t.test('the database refuses duplicates ignoring case and names the field', async (t) => {
      await app.users.create({ username: 'Alice', email: 'alice@example.com', passwordHash: 'h' })
      const byName = await app.users.create({ username: 'ALICE', email: 'other@example.com', passwordHash: 'h' }).catch((e: unknown) => e)
      t.type(byName, UniqueViolationError)
      t.same((byName as UniqueViolationError).fields, ['username'])
      const byEmail = await app.users.create({ username: 'alice2', email: 'Alice@EXAMPLE.com', passwordHash: 'h' }).catch((e: unknown) => e)
      t.type(byEmail, UniqueViolationError)
      t.same((byEmail as UniqueViolationError).fields, ['email'])
      t.equal((await rows()).length, 1)
    })

    t.test('two racing creates of one username differing in case: exactly one wins', async (t) => {
      const results = await Promise.allSettled([
        app.users.create({ username: 'Racer', email: 'racer1@example.com', passwordHash: 'h' }),
        app.users.create({ username: 'rACER', email: 'racer2@example.com', passwordHash: 'h' })
      ])
      const won = results.filter((r): r is PromiseFulfilledResult<User> => r.status === 'fulfilled')
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      t.equal(won.length, 1, 'one succeeded')
      t.equal(lost.length, 1, 'one failed')
      t.type(lost[0]!.reason, UniqueViolationError)
      t.same((lost[0]!.reason as UniqueViolationError).fields, ['username'])
      const stored = await rows({ usernameLower: 'racer' })
      t.equal(stored.length, 1)
      t.equal(stored[0]!.id, won[0]!.value.id)
    })

    t.test('create takes an id made by the caller', async (t) => {
      const id = '0b9c2a57-3f2e-4e0a-9d61-0f6d2c1e8a44'
      const user = await app.users.create({ id, username: 'given', email: 'given@example.com', passwordHash: 'h' })
      t.equal(user.id, id)
      t.equal((await app.users.findById(id))?.username, 'given')
    })

    t.test('recordLogin: a compare-and-set on the verified hash, optionally re-hashing; deactivate', async (t) => {
      const user = await app.users.create({ username: 'logger', email: 'logger@example.com', passwordHash: 'old' })
      const at = new Date('2030-01-02T03:04:05.678Z')
      t.equal(await app.users.recordLogin(user.id, at, 'old'), true)
      let row = (await rows({ id: user.id }))[0]!
      t.same(row.lastLogin, at)
      t.equal(row.passwordHash, 'old')

      const later = new Date('2030-01-03T00:00:00.000Z')
      t.equal(await app.users.recordLogin(user.id, later, 'old', 'new-hash'), true)
      row = (await rows({ id: user.id }))[0]!
      t.same(row.lastLogin, later)
      t.equal(row.passwordHash, 'new-hash')
      t.same((await app.users.findById(user.id))?.lastLogin, later)

      // The hash changed since the login checked it (a reset, a change): nothing is written.
      t.equal(await app.users.recordLogin(user.id, at, 'old', 'stale-rehash'), false, 'a stale login is refused')
      row = (await rows({ id: user.id }))[0]!
      t.same(row.lastLogin, later, 'last_login kept')
      t.equal(row.passwordHash, 'new-hash', 'the newer hash kept, not undone by the re-hash')

      await app.users.deactivate(user.id)
      t.equal((await rows({ id: user.id }))[0]!.isActive, false)
      t.equal((await app.users.findByLogin('LOGGER'))?.isActive, false, 'still found, flagged inactive')
      t.equal(await app.users.recordLogin(user.id, at, 'new-hash'), false, 'an inactive user cannot finish a login')

      // Unknown ids are no-ops, not errors.
      t.equal(await app.users.recordLogin('00000000-0000-4000-8000-000000000000', at, 'h'), false)
      await app.users.deactivate('not-a-uuid')
      t.equal((await rows()).length, 1)
    })
  })
}
