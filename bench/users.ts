// The benchmark's users: registered through the service (bcrypt at the service's cost, a few at
// a time), and, when the service is given by --url and keeps them in its own database, copied
// into the benchmark's, where the baseline's login reads them.
import { randomBytes } from 'node:crypto'
import bcrypt from 'bcryptjs'
import { PrismaPg } from '@prisma/adapter-pg'
import { PrismaClient } from '../plugins/external/prisma/index.js'
import { createUserRepository } from '../plugins/app/users.js'
import { inBatches, post } from './http.js'
import type { BenchUser } from './scenarios.js'

const email = (username: string) => `${username}@bench.example`

export function registerUsers (serviceUrl: string, runId: string, count: number): Promise<BenchUser[]> {
  return inBatches(count, 4, async (i) => {
    const u = { username: `bench_${runId}_${i}`, password: `${randomBytes(9).toString('base64url')}-Pw1` }
    const created = await post<{ id: string }>(serviceUrl, '/api/auth/register/', { ...u, email: email(u.username), password2: u.password }, 201)
    return { ...u, id: created.id }
  })
}

/**
 * The same users (same ids and passwords, bcrypt at `cost`) written through the service's own
 * user repository, so that names and e-mails are stored and folded exactly as the service does.
 */
export async function copyUsers (databaseUrl: string, users: BenchUser[], cost: number): Promise<void> {
  const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl }) })
  try {
    const repository = createUserRepository(prisma)
    for (const u of users) {
      await repository.create({ id: u.id, username: u.username, email: email(u.username), passwordHash: bcrypt.hashSync(u.password, cost) })
    }
  } finally {
    await prisma.$disconnect()
  }
}
