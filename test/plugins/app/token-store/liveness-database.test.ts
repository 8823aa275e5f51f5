// Revocation through one instance refused at once by another that had the session cached, with
// the database store on PostgreSQL (LISTEN/NOTIFY): test/support/revocation-trials.ts.
import t from 'tap'
import { revocationTrials } from '../../../support/revocation-trials.js'

await revocationTrials(t, { name: 'the database store on PostgreSQL', mode: 'postgres', env: { TOKEN_STORE: 'database' } })
