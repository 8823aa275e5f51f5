// src/routes/protected-endpoint/index.ts: what an authenticated caller gets (who is refused, and
// why, is plugins/app/auth.ts's test).
import t from 'tap'
import { build, get, register } from '../../helper.js'

t.test('an authenticated caller gets the message', async (t) => {
  const { app } = await build(t, 'embedded')
  const user = await register(app)
  const ok = await get(app, '/api/protected-endpoint/', user.access)
  t.equal(ok.statusCode, 200)
  t.same(ok.json(), { message: 'You have accessed a protected route!' })
})
