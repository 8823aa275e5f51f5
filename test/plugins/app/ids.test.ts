// Token and session ids: 128 random bits each, base64url, never the same twice (the pool they are
// drawn from is refilled as it runs out).
import t from 'tap'
import { isUuid, newId } from '../../../plugins/app/ids.js'

t.test('newId: 22 base64url characters of 16 bytes, unique across several refills of the pool', async (t) => {
  const seen = new Set<string>()
  const counts = new Array<number>(256).fill(0)
  for (let i = 0; i < 20_000; i++) {
    const id = newId()
    const bytes = Buffer.from(id, 'base64url')
    if (!/^[A-Za-z0-9_-]{22}$/.test(id) || bytes.length !== 16 || bytes.toString('base64url') !== id) t.fail(`not 16 bytes in base64url: ${id}`)
    seen.add(id)
    for (const b of bytes) counts[b]!++
  }
  t.equal(seen.size, 20_000, 'no id twice')
  // 320,000 bytes: each value about 1,250 times; a stuck or zeroed pool would be far off.
  t.ok(Math.min(...counts) > 1_000 && Math.max(...counts) < 1_500, `bytes spread evenly (${Math.min(...counts)}..${Math.max(...counts)})`)
})

t.test('isUuid', async (t) => {
  t.equal(isUuid('550e8400-e29b-41d4-a716-446655440000'), true)
  t.equal(isUuid(newId()), false)
})
