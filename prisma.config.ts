// Prisma CLI configuration (prisma generate). Migrations do not go through the CLI's native
// engine, which cannot be installed here: scripts/migrate.ts runs Prisma's schema engine in
// WebAssembly over a driver adapter instead (see plugins/external/prisma/migrations.ts).
import { defineConfig } from 'prisma/config'

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  // Optional: generate needs no database. Read here only for CLI commands that take one.
  datasource: process.env.DATABASE_URL ? { url: process.env.DATABASE_URL } : {}
})
