// Revocation through one instance refused at once by another that had the session cached, on the
// run's Redis Cluster (one invalidation connection per master): test/support/revocation-trials.ts.
import t from 'tap'
import { MODES } from '../../../helper.js'
import { revocationTrials } from '../../../support/revocation-trials.js'

if (MODES.includes('cluster')) await revocationTrials(t, { name: 'the Redis Cluster', mode: 'cluster', env: {} })
else t.pass('no Redis Cluster in this run')
