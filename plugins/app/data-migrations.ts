// The app's data migrations: changes of stored data that SQL cannot compute the way the service
// does (Unicode folding of usernames: PostgreSQL's lower() depends on the database's locale, and
// version 15 has no casefold()). They apply the app's rules, so they live here; the runner that
// records and applies them, after the SQL migrations, is the database's (external/prisma).
import { DataMigrationRefused, queryRows, sqlLiteral, type DataMigration } from '../external/prisma/data-migrations.js'
import { foldUsername } from './usernames.js'

/** In the order they run. */
export const dataMigrations: DataMigration[] = [
  {
    // Usernames are unique by their NFKC + case-folded form (usernames.ts), no longer
    // by lower(): re-key every user, and refuse (naming them) when two would share a key.
    name: '20261121120000_fold_usernames',
    async plan (db) {
      const users = (await queryRows(db, 'SELECT id::text, username, username_lower FROM users ORDER BY id')) as Array<[string, string, string]>
      const byKey = new Map<string, Array<[string, string, string]>>()
      for (const user of users) {
        const key = foldUsername(user[1])
        byKey.set(key, [...(byKey.get(key) ?? []), user])
      }
      const name = ([id, username]: [string, string, string]) => `${JSON.stringify(username)} (${id})`
      const collisions = [...byKey.values()].filter((group) => group.length > 1)
      if (collisions.length > 0) {
        throw new DataMigrationRefused(
          'usernames would collide once compared after NFKC normalisation and case folding; rename all but one of each group, then migrate again: ' +
            collisions.map((group) => group.map(name).join(' = ')).join('; ')
        )
      }
      const tooLong = [...byKey.keys()].filter((key) => key.length > 150)
      if (tooLong.length > 0) {
        throw new DataMigrationRefused(`these usernames fold to more than 150 characters; rename them, then migrate again: ${tooLong.map((k) => name(byKey.get(k)![0]!)).join(', ')}`)
      }
      const changed = users.filter(([, username, key]) => foldUsername(username) !== key)
      if (changed.length === 0) return ''
      const ids = changed.map(([id]) => `${sqlLiteral(id)}::uuid`).join(', ')
      const values = changed.map(([id, username]) => `(${sqlLiteral(id)}::uuid, ${sqlLiteral(foldUsername(username))})`).join(', ')
      // Two steps: no new key may meet another row's old one half-way through.
      return (
        `UPDATE users SET username_lower = '~' || id::text WHERE id IN (${ids});\n` +
        `UPDATE users AS u SET username_lower = v.key FROM (VALUES ${values}) AS v(id, key) WHERE u.id = v.id;\n`
      )
    }
  }
]
