// Which errors of the PrismaClient are outages (a 503) and which are not (a bug stays a 500).
import t from 'tap'
import { databaseOutage } from '../../../../plugins/external/prisma/database-outage.js'

const coded = (message: string, code: string) => Object.assign(new Error(message), { code })

t.test('database: unreachable, timed out, shutting down or read-only are outages; a constraint is not', async (t) => {
  const adapter = (originalCode: string, kind = 'postgres') =>
    Object.assign(new Error('query failed'), { name: 'PrismaClientKnownRequestError', code: 'P2010', meta: { driverAdapterError: { cause: { kind, originalCode } } } })
  t.equal(databaseOutage(adapter('57014')), 'timeout', 'statement_timeout')
  t.equal(databaseOutage(adapter('57P01')), 'refused', 'admin shutdown')
  t.equal(databaseOutage(adapter('08006')), 'refused', 'connection failure')
  t.equal(databaseOutage(adapter('25006')), 'refused', 'read-only transaction')
  t.equal(databaseOutage(adapter('23505')), null, 'a unique violation is the caller’s business')
  t.equal(databaseOutage(adapter('42703')), null, 'an undefined column is a bug')
  t.equal(databaseOutage(Object.assign(new Error('x'), { name: 'PrismaClientInitializationError' })), 'down')
  t.equal(databaseOutage(coded('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')), 'down')
  t.equal(databaseOutage(new Error('timeout exceeded when trying to connect')), 'down')
  t.equal(databaseOutage(new Error('Query read timeout')), 'down')
  t.equal(databaseOutage(new RangeError('Invalid array length')), null)
})
