// Usernames as Django compares them: NFKC-normalised and case-folded, for uniqueness, login and
// the failure limits; stored in their NFKC form; a name whose folded form outgrows the column is a 400.
import t from 'tap'
import { foldUsername, normalizeUsername } from '../../../plugins/app/usernames.js'
import { build, MODES, PASSWORD, post, register, uniqueName } from '../../helper.js'

t.test('folding: twins by width, font, case and ligature are one name', async (t) => {
  for (const [a, b] of [
    ['ＡＤＭＩＮ', 'admin'],
    ['𝐚𝐝𝐦𝐢𝐧', 'admin'],
    ['Admin', 'aDMIN'],
    ['Straße', 'STRASSE'],
    ['ﬀ', 'FF'],
    ['ΣΑΣ', 'σας'],
    ['ſ', 'S']
  ]) {
    t.equal(foldUsername(a), foldUsername(b), `${a} = ${b}`)
  }
  t.not(foldUsername('İ'), foldUsername('I'), 'dotted capital I folds to i + dot, as in Python')
  t.equal(normalizeUsername('ＡＤＭＩＮ'), 'ADMIN', 'stored in NFKC form')
})

for (const mode of MODES) {
  t.test(`twins of a name are the same user (${mode})`, async (t) => {
    const { app } = await build(t, mode)
    const base = uniqueName('twin').toLowerCase()
    const wide = [...base].map((c) => (/[a-z0-9_]/.test(c) ? String.fromCodePoint(c.codePointAt(0)! + 0xfee0) : c)).join('')
    const user = await register(app, { username: base })
    const taken = await post(app, '/api/auth/register/', { username: wide, email: `other-${base}@example.com`, password: PASSWORD })
    t.equal(taken.statusCode, 400)
    t.same(taken.json(), { username: ['A user with that username already exists.'] })
    for (const login of [wide, base.toUpperCase(), wide.toUpperCase()]) {
      const res = await post(app, '/api/auth/login/', { username: login, password: PASSWORD })
      t.equal(res.statusCode, 200, login)
      t.equal(res.json().user.id, user.id)
    }
    // A fullwidth registration is stored in its NFKC form.
    const fresh = uniqueName('wide').toLowerCase()
    const made = await post(app, '/api/auth/register/', {
      username: [...fresh].map((c) => (/[a-z]/.test(c) ? String.fromCodePoint(c.codePointAt(0)! + 0xfee0) : c)).join(''),
      email: `${fresh}@example.com`,
      password: PASSWORD
    })
    t.equal(made.statusCode, 201)
    t.equal(made.json().username, fresh)
    // ß folds to ss: 100 of them fold to 200 characters, too long for the column.
    const long = await post(app, '/api/auth/register/', { username: 'ß'.repeat(100), email: `ss-${base}@example.com`, password: PASSWORD })
    t.equal(long.statusCode, 400)
    t.same(long.json(), { username: ['Ensure this field has no more than 150 characters.'] })
  })
}
