// `npm run createsuperuser` as an operator runs it, on PGlite and on PostgreSQL: with --no-input
// from the environment (and its refusals, exit code 1), and interactively, with answers piped in
// (every problem shown, the question asked again) and on a terminal (the password not echoed).
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../plugins/app/config/index.js'
import { createTestDatabase, createTestDataDir } from '../support/db.js'
import { TEST_SECRET } from '../helper.js'

const root = new URL('../..', import.meta.url).pathname
const PASSWORD = 'Str0ng-Passphrase!'

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs the script with `input` on its stdin (through `script`, a terminal, when `tty`). */
function createsuperuser (env: Record<string, string>, args: string[], input = '', tty = false): Promise<Run> {
  const command = [process.execPath, '--import', import.meta.resolve('tsx'), join(root, 'scripts', 'createsuperuser.ts'), ...args]
  const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`
  const [file, argv] = tty ? ['script', ['-qfec', command.map(quote).join(' '), '/dev/null']] : [command[0]!, command.slice(1)]
  const child = spawn(file, argv as string[], { cwd: root, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  if (tty) {
    // A terminal takes what is typed as it comes: one answer after each question.
    const answers = input.split('\n')
    let asked = 0
    child.stdout.on('data', () => {
      const questions = (stdout.match(/(?:Username(?: \(leave blank to use '[^']*'\))?|Email address|Password(?: \(again\))?): /g) ?? []).length
      while (asked < Math.min(questions, answers.length)) child.stdin.write(answers[asked++] + '\r')
    })
  } else {
    child.stdin.end(input)
  }
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })))
}

for (const kind of ['pglite', 'postgres'] as const) {
  t.test(`createsuperuser (${kind})`, async (t) => {
    const env: Record<string, string> = { NODE_ENV: 'test', JWT_SECRET: TEST_SECRET, BCRYPT_COST: '4', PASSWORD_WORKERS: '1', MFA_ENCRYPTION_KEY: TEST_SECRET }
    if (kind === 'pglite') {
      const data = await createTestDataDir()
      t.teardown(() => data.cleanup())
      env.DATA_DIR = data.dir
    } else {
      const db = await createTestDatabase()
      t.teardown(() => db.drop())
      env.DATABASE_URL = db.url
      env.DATA_DIR = `/tmp/auth-test-${randomBytes(6).toString('hex')}`
    }
    const name = (prefix: string) => `${prefix}${randomBytes(3).toString('hex')}`
    const admin = name('root')

    t.test('--no-input from the environment; a duplicate, a weak password and a missing variable are refused', async (t) => {
      const noInput = (vars: Record<string, string>) => createsuperuser({ ...env, ...vars }, ['--no-input'])
      const made = await noInput({ SUPERUSER_USERNAME: admin, SUPERUSER_EMAIL: `${admin}@example.com`, SUPERUSER_PASSWORD: PASSWORD })
      t.equal(made.code, 0, made.stderr)
      t.match(made.stdout, 'Superuser created successfully.')

      const again = await noInput({ SUPERUSER_USERNAME: admin.toUpperCase(), SUPERUSER_EMAIL: 'other@example.com', SUPERUSER_PASSWORD: PASSWORD })
      t.equal(again.code, 1)
      t.match(again.stderr, 'Error: That username is already taken.')
      const weak = await noInput({ SUPERUSER_USERNAME: name('weak'), SUPERUSER_EMAIL: 'weak@example.com', SUPERUSER_PASSWORD: '12345678' })
      t.equal(weak.code, 1)
      t.match(weak.stderr, 'Error: This password is too common.')
      t.match(weak.stderr, 'Error: This password is entirely numeric.')
      const invalid = await noInput({ SUPERUSER_USERNAME: 'not valid!', SUPERUSER_EMAIL: 'nope', SUPERUSER_PASSWORD: PASSWORD })
      t.equal(invalid.code, 1)
      t.match(invalid.stderr, 'Error: Enter a valid username.')
      t.match(invalid.stderr, 'Error: Enter a valid email address.')
      const missing = await noInput({ SUPERUSER_USERNAME: name('x'), SUPERUSER_EMAIL: 'x@example.com' })
      t.equal(missing.code, 1)
      t.match(missing.stderr, 'Error: You must set SUPERUSER_PASSWORD with --no-input.')
    })

    t.test('interactive: each problem shown and the question asked again', async (t) => {
      const username = name('inter')
      const answers = [
        'not valid!', // a bad username
        admin, // taken
        username,
        'nope', // a bad address
        `${admin}@example.com`, // taken
        `${username}@example.com`,
        PASSWORD, 'Other-Passphrase!', // not the same twice
        'short', 'short', // too short
        PASSWORD, PASSWORD
      ]
      const run = await createsuperuser(env, [], answers.join('\n') + '\n')
      t.equal(run.code, 0, run.stderr)
      t.match(run.stderr, 'Error: Enter a valid username.')
      t.match(run.stderr, 'Error: That username is already taken.')
      t.match(run.stderr, 'Error: Enter a valid email address.')
      t.match(run.stderr, 'Error: A user with that email already exists.')
      t.match(run.stderr, "Error: Your passwords didn't match.")
      t.match(run.stderr, 'Error: This password is too short. It must contain at least 8 characters.')
      t.equal(run.stdout.match(/Username/g)?.length, 3)
      t.equal(run.stdout.match(/Password \(again\)/g)?.length, 3)
      t.match(run.stdout, 'Superuser created successfully.')
    })

    t.test('on a terminal the password is not echoed', async (t) => {
      const username = name('tty')
      const secret = 'Tty-Passphrase-' + randomBytes(4).toString('hex')
      const run = await createsuperuser(env, [], [username, `${username}@example.com`, secret, secret].join('\n'), true)
      t.equal(run.code, 0, run.stdout + run.stderr)
      t.match(run.stdout, username, 'the username is echoed')
      t.notMatch(run.stdout, secret, 'the password is not')
      t.match(run.stdout, 'Superuser created successfully.')
    })

    t.test('the superusers made can sign in and use the admin API', async (t) => {
      const app = await buildApp(loadConfig({ ...env, LOG_LEVEL: 'silent', RATE_LIMIT_ENABLED: 'false' }))
      t.teardown(() => app.close())
      const login = await app.inject({ method: 'POST', url: '/api/auth/login/', payload: { username: admin, password: PASSWORD } })
      t.equal(login.statusCode, 200, login.body)
      const list = await app.inject({ method: 'GET', url: `/api/admin/users/?search=${admin}`, headers: { authorization: `Bearer ${login.json().access}` } })
      t.equal(list.statusCode, 200)
      t.match(list.json().results, [{ username: admin, is_staff: true, is_superuser: true, email_verified: true, is_active: true }])
      t.equal((await app.inject({ method: 'GET', url: '/api/admin/users/?search=inter', headers: { authorization: `Bearer ${login.json().access}` } })).json().count, 1)
    })
  })
}
