// Revocation through one instance refused at once by another that had the session cached, on one
// Redis: test/support/revocation-trials.ts.
import t from 'tap'
import { revocationTrials } from '../../../support/revocation-trials.js'

await revocationTrials(t, { name: 'Redis', mode: 'postgres', env: {} })
