// The data migration that re-keys usernames by their NFKC + case-folded form: existing users
// are found by any twin of their name afterwards, and two users who would collide make it refuse,
// naming them, with nothing changed.
import t from 'tap'
import { dataMigrations } from '../../../plugins/app/data-migrations.js'
import { applyDataMigrations, pendingDataMigrations } from '../../../plugins/external/prisma/data-migrations.js'
import { postgresAdapterFactory } from '../../../plugins/external/prisma/migrations.js'
import { pgliteAdapterFactory } from '../../../plugins/external/prisma/pglite.js'
import { createTestPrisma, type DatabaseKind, type TestPrisma } from '../../support/db.js'

const NAME = '20261121120000_fold_usernames'

/** Users as the previous version stored them: username_lower = lower(username). */
async function oldUsers (db: TestPrisma, names: string[]) {
  await db.prisma.$executeRawUnsafe(`DELETE FROM _auth_data_migrations WHERE name = '${NAME}'`)
  for (const [i, username] of names.entries()) {
    await db.prisma.user.create({
      data: { username, usernameLower: username.toLowerCase(), email: `u${i}@example.com`, emailLower: `u${i}@example.com`, passwordHash: 'h' }
    })
  }
}

const keys = async (db: TestPrisma) =>
  Object.fromEntries((await db.prisma.user.findMany({ select: { username: true, usernameLower: true } })).map((u) => [u.username, u.usernameLower]))

for (const kind of ['pglite', 'postgres'] as DatabaseKind[]) {
  t.test(`${kind}: stored keys are re-folded, once`, async (t) => {
    const db = await createTestPrisma(kind)
    t.teardown(() => db.cleanup())
    await oldUsers(db, ['Straße', 'ＢＯＢ', 'plain_name'])
    const query = (sql: string) => db.prisma.$queryRawUnsafe<Array<Record<string, unknown>>>(sql)
    t.same(await pendingDataMigrations(query, dataMigrations), [NAME])
    const applied = await applyDataMigrations(adapterOf(db, kind), dataMigrations)
    t.same(applied, [NAME])
    t.same(await keys(db), { Straße: 'strasse', ＢＯＢ: 'bob', plain_name: 'plain_name' })
    t.same(await pendingDataMigrations(query, dataMigrations), [], 'recorded')
    t.same(await applyDataMigrations(adapterOf(db, kind), dataMigrations), [], 'and not run again')
  })

  t.test(`${kind}: users who would collide make it refuse, naming them; nothing changes`, async (t) => {
    const db = await createTestPrisma(kind)
    t.teardown(() => db.cleanup())
    await oldUsers(db, ['alice', 'ＡＬＩＣＥ', 'Straße', 'STRASSE', 'carol'])
    const before = await keys(db)
    const err = await applyDataMigrations(adapterOf(db, kind), dataMigrations).catch((e: unknown) => e)
    t.match(err, { name: 'DataMigrationRefused' })
    t.match((err as Error).message, /"alice" \([0-9a-f-]+\) = "ＡＬＩＣＥ" \([0-9a-f-]+\)|"ＡＬＩＣＥ" \([0-9a-f-]+\) = "alice" \([0-9a-f-]+\)/)
    t.match((err as Error).message, /"Straße" .* = "STRASSE"|"STRASSE" .* = "Straße"/)
    t.notMatch((err as Error).message, /carol/)
    t.same(await keys(db), before, 'nothing changed')
    const query = (sql: string) => db.prisma.$queryRawUnsafe<Array<Record<string, unknown>>>(sql)
    t.same(await pendingDataMigrations(query, dataMigrations), [NAME], 'still pending')
  })
}

/** A migration adapter on the test database. */
function adapterOf (db: TestPrisma, kind: DatabaseKind) {
  return kind === 'postgres' ? postgresAdapterFactory(db.url!) : pgliteAdapterFactory(db.pglite!)
}
