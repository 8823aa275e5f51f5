// The throttle plugin's login-failure policy, called with explicit (ip, account) arguments, and
// its request limits; the routes' use of them is in test/routes/throttle.test.ts.
import t from 'tap'
import { ApiError } from '../../../plugins/app/errors.js'
import { build, MODES } from '../../helper.js'

const limited = {
  RATE_LIMIT_ENABLED: 'true',
  LOGIN_FAILURES_PER_USER_IP: '2',
  LOGIN_FAILURES_PER_ACCOUNT: '3'
}

/** The 429 checkLogin threw, or null when it let the login through. */
async function refusal(check: Promise<void>): Promise<ApiError | null> {
  try {
    await check
    return null
  } catch (err) {
    if (err instanceof ApiError) return err
    throw err
  }
}

for (const mode of MODES) {
  t.test(`login failures per (ip, account) and per account (${mode})`, async (t) => {
    const { app } = await build(t, mode, limited)
    const { throttle } = app
    const account = `ann_${Date.now()}`

    t.equal(await refusal(throttle.checkLogin('192.0.2.1', account)), null, 'no failures yet')
    await throttle.failLogin('192.0.2.1', account)
    t.equal(await refusal(throttle.checkLogin('192.0.2.1', account)), null, 'one failure of two')
    // The key is counted as given: accounts folds the name (one owner), the throttle does not again.
    await throttle.failLogin('192.0.2.1', account.toUpperCase())
    t.equal(await refusal(throttle.checkLogin('192.0.2.1', account)), null, 'another spelling of the key is another bucket')
    await throttle.failLogin('192.0.2.1', account)

    const blocked = await refusal(throttle.checkLogin('192.0.2.1', account))
    t.equal(blocked?.statusCode, 429, 'the (ip, account) limit: two failures')
    t.match(blocked?.body, { detail: /^Request was throttled\. Expected available in \d+ seconds?\.$/ })
    t.match(blocked?.headers, { 'retry-after': /^\d+$/ })
    t.ok(Number(blocked?.headers['retry-after']) > 60 && Number(blocked?.headers['retry-after']) <= 900, 'within the 15-minute window')

    t.equal(await refusal(throttle.checkLogin('192.0.2.2', account)), null, 'another IP: two failures of three for the account')
    t.equal(await refusal(throttle.checkLogin('192.0.2.1', `${account}_other`)), null, 'another account from the same IP')

    await throttle.failLogin('192.0.2.2', account)
    const everywhere = await refusal(throttle.checkLogin('192.0.2.2', account))
    t.equal(everywhere?.statusCode, 429, 'three failures from all IPs: every IP that failed on the account is throttled')
    t.ok(Number(everywhere?.headers['retry-after']) > 900, 'for the hour-long window')
    t.equal(await refusal(throttle.checkLogin('192.0.2.3', account)), null, 'an IP that never failed on it may still try (the owner)')
    await throttle.failLogin('192.0.2.3', account)
    t.equal((await refusal(throttle.checkLogin('192.0.2.3', account)))?.statusCode, 429, 'and is throttled after one failure')
  })
}

t.test('long account names are counted under a hash, not as typed', async (t) => {
  const { app } = await build(t, 'embedded', limited)
  const long = 'x'.repeat(300)
  await app.throttle.failLogin('192.0.2.9', long)
  await app.throttle.failLogin('192.0.2.9', long)
  t.equal((await refusal(app.throttle.checkLogin('192.0.2.9', long)))?.statusCode, 429)
  t.equal(await refusal(app.throttle.checkLogin('192.0.2.9', 'x'.repeat(299))), null, 'a different long name has its own bucket')
})

t.test('RATE_LIMIT_ENABLED=false: nothing is counted or refused', async (t) => {
  const { app } = await build(t, 'embedded', { ...limited, RATE_LIMIT_ENABLED: 'false' })
  for (let i = 0; i < 5; i++) await app.throttle.failLogin('192.0.2.1', 'ann')
  t.equal(await refusal(app.throttle.checkLogin('192.0.2.1', 'ann')), null)
  t.same(app.throttle.loginAttempts, [])
  t.same(app.throttle.perRequest({ max: 1, timeWindow: 1000, key: () => 'k' }), [])
})
