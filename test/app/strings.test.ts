// No string a client can send reaches the database as an error: a NUL byte or a lone surrogate in
// any text field is a 400 with DRF's message, in both modes (PostgreSQL refuses NUL in text; a
// lone surrogate has no UTF-8 form).
import t from 'tap'
import { build, MODES, PASSWORD, post, register, uniqueName } from '../helper.js'

const NUL = 'Null characters are not allowed.'
const SURROGATE = 'Surrogate characters are not allowed: U+D800.'

for (const mode of MODES) {
  t.test(`NUL and lone surrogates are 400s, never 500s (${mode})`, async (t) => {
    const { app } = await build(t, mode)
    const user = await register(app)
    const fresh = () => {
      const name = uniqueName()
      return { username: name, email: `${name}@example.com`, password: PASSWORD }
    }

    for (const [bad, message] of [['a\u0000b', NUL], ['a\ud800b', SURROGATE]] as const) {
      for (const field of ['username', 'email', 'first_name', 'last_name', 'password', 'password2']) {
        const body: Record<string, string> = { ...fresh(), [field]: bad }
        const res = await post(app, '/api/auth/register/', body)
        t.equal(res.statusCode, 400, `register ${field} ${JSON.stringify(bad)}`)
        // DRF runs every validator of the field: an email is also not a valid address.
        t.same(res.json()[field], field === 'email' ? [message, 'Enter a valid email address.'] : [message])
      }
      // All at once, with the other problems.
      const all = await post(app, '/api/auth/register/', { username: bad, email: user.email, password: PASSWORD, first_name: bad })
      t.same(all.json(), { username: [message], email: ['A user with that email already exists.'], first_name: [message] })

      for (const url of ['/api/auth/login/', '/api/token/']) {
        for (const field of ['username', 'password']) {
          const res = await post(app, url, { username: user.username, password: PASSWORD, [field]: bad })
          t.equal(res.statusCode, 400, `${url} ${field}`)
          t.same(res.json(), { [field]: [message] })
        }
      }
    }
    // A surrogate pair (an emoji) is a character like any other.
    const emoji = await post(app, '/api/auth/register/', { ...fresh(), first_name: 'Ann 😀' })
    t.equal(emoji.statusCode, 201)
    t.equal(emoji.json().first_name, 'Ann 😀')
    const login = await post(app, '/api/auth/login/', { username: 'nobody-😀', password: PASSWORD })
    t.equal(login.statusCode, 401)
  })
}
