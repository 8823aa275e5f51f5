// Creates a superuser (is_staff and is_superuser, e-mail verified) on the configured database, as
// Django's `createsuperuser` does: asks for the username, the e-mail address and the password
// (twice, not echoed), each validated like register (the same schema, messages and password
// validators), and asks again after a problem. The service's settings come from the environment
// and ./.env, as the service reads them (DATABASE_URL, or the embedded PGlite in DATA_DIR).
//
//   npm run createsuperuser [-- --username NAME --email ADDRESS]
//   npm run createsuperuser -- --no-input        SUPERUSER_USERNAME, SUPERUSER_EMAIL and
//                                                SUPERUSER_PASSWORD from the environment; any
//                                                problem is printed and the exit code is 1
//   node dist/scripts/createsuperuser.js ...     the same in the built image (docker compose exec)
import { userInfo } from 'node:os'
import { createInterface } from 'node:readline'
import { Writable } from 'node:stream'
import { parseArgs } from 'node:util'
import { Ajv } from 'ajv'
import addFormatsModule, { type FormatsPlugin } from 'ajv-formats'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../src/app.js'
import { validationToFieldErrors } from '../src/error-handler.js'
import { EmailSchema, PasswordSchema, UsernameSchema } from '../src/schemas/auth.js'
import { RegisterBodySchema } from '../src/schemas/routes.js'
import { loadConfig, loadEnvFile } from '../plugins/app/config/index.js'
import { UniqueViolationError } from '../plugins/app/users.js'
import { normalizeUsername } from '../plugins/app/usernames.js'

// ajv-formats is CommonJS: its default export is the module itself under NodeNext.
const addFormats = ((addFormatsModule as unknown as { default?: FormatsPlugin }).default ?? addFormatsModule) as FormatsPlugin

type Field = 'username' | 'email' | 'password'
type Input = Record<Field, string>

// Django's words where createsuperuser has its own; register's everywhere else.
const DJANGO = new Map([
  ['A user with that username already exists.', 'That username is already taken.'],
  ['This field may not be blank.', 'This field cannot be blank.']
])
const say = (message: string) => DJANGO.get(message) ?? message

class CommandError extends Error {}

/** The problems of each field of `input`, as register reports them; only the fields in `only`. */
function validator (app: FastifyInstance) {
  // Compiled as the routes' schemas are (ajv, its formats, every problem at once).
  const ajv = new Ajv({ allErrors: true, coerceTypes: false })
  addFormats(ajv)
  for (const schema of [UsernameSchema, EmailSchema, PasswordSchema]) ajv.addSchema(schema)
  const check = ajv.compile(RegisterBodySchema)
  return async (input: Input, only: readonly Field[]): Promise<Partial<Record<Field, string[]>>> => {
    const shape = check(input) ? {} : validationToFieldErrors(check.errors ?? [], input)
    const skip = (['username', 'email', 'password'] as const).filter((f) => !only.includes(f) || shape[f])
    const rules = await app.accounts.registrationErrors({ ...input, first_name: '', last_name: '' }, skip)
    const out: Partial<Record<Field, string[]>> = {}
    for (const field of only) {
      const messages = [...(shape[field] ?? []), ...(rules[field] ?? [])].map(say)
      if (messages.length > 0) out[field] = messages
    }
    return out
  }
}

/** Reads lines from stdin (piped or a terminal); a hidden question is not echoed on a terminal. */
function prompter () {
  let muted = false
  const output = new Writable({
    write (chunk, encoding, done) {
      if (!muted) process.stdout.write(chunk, encoding)
      done()
    }
  })
  const terminal = process.stdin.isTTY === true
  const rl = createInterface({ input: process.stdin, output, terminal })
  rl.on('SIGINT', () => {
    process.stdout.write('\nOperation cancelled.\n')
    process.exit(1)
  })
  const lines = rl[Symbol.asyncIterator]()
  let warned = false
  return {
    async ask (question: string, hidden = false): Promise<string> {
      if (hidden && !terminal && !warned) {
        warned = true
        process.stderr.write('Warning: Password input may be echoed.\n')
      }
      process.stdout.write(question)
      muted = hidden && terminal
      try {
        const { value, done } = await lines.next()
        if (done) throw new CommandError('no more input')
        return value as string
      } finally {
        if (muted) process.stdout.write('\n')
        muted = false
      }
    },
    close: () => rl.close()
  }
}

async function interactive (app: FastifyInstance, given: Partial<Input>): Promise<Input> {
  const validate = validator(app)
  const ask = prompter()
  const problems = (messages: string[] | undefined) => {
    for (const m of messages ?? []) process.stderr.write(`Error: ${m}\n`)
    return (messages?.length ?? 0) > 0
  }
  try {
    const input: Input = { username: '', email: '', password: '' }
    // The account's name on this machine is offered when it would do.
    const system = normalizeUsername(userInfo().username)
    const offer = system && !(await validate({ ...input, username: system }, ['username'])).username ? system : ''
    for (let first = true; ; first = false) {
      const typed = first && given.username !== undefined ? given.username : await ask.ask(offer ? `Username (leave blank to use '${offer}'): ` : 'Username: ')
      input.username = normalizeUsername(typed.trim()) || offer
      // (A name with an @ must be the e-mail address asked next: checked there.)
      if (!problems((await validate({ ...input, email: input.username.includes('@') ? input.username : '' }, ['username'])).username)) break
    }
    for (let first = true; ; first = false) {
      input.email = (first && given.email !== undefined ? given.email : await ask.ask('Email address: ')).trim()
      // A username with an @ must be this address: reported here, where it can still be met.
      const errors = await validate(input, ['username', 'email'])
      if (!problems([...(errors.email ?? []), ...(errors.username ?? [])])) break
    }
    for (;;) {
      const password = await ask.ask('Password: ', true)
      const again = await ask.ask('Password (again): ', true)
      if (password !== again) {
        problems(["Your passwords didn't match."])
        continue
      }
      if (password === '') {
        problems(["Blank passwords aren't allowed."])
        continue
      }
      input.password = password
      if (!problems((await validate(input, ['password'])).password)) return input
    }
  } finally {
    ask.close()
  }
}

async function fromEnvironment (app: FastifyInstance): Promise<Input> {
  const read = (name: string) => {
    const value = process.env[name]
    if (value === undefined || value === '') throw new CommandError(`You must set ${name} with --no-input.`)
    return value
  }
  const input = { username: normalizeUsername(read('SUPERUSER_USERNAME').trim()), email: read('SUPERUSER_EMAIL').trim(), password: read('SUPERUSER_PASSWORD') }
  const errors = await validator(app)(input, ['username', 'email', 'password'])
  const messages = Object.values(errors).flat()
  if (messages.length > 0) throw new CommandError(messages.join('\nError: '))
  return input
}

const { values } = parseArgs({
  options: {
    'no-input': { type: 'boolean', default: false },
    noinput: { type: 'boolean', default: false },
    username: { type: 'string' },
    email: { type: 'string' },
    help: { type: 'boolean', short: 'h' }
  }
})
if (values.help) {
  console.log('usage: npm run createsuperuser [-- --username NAME --email ADDRESS | --no-input]\n  --no-input reads SUPERUSER_USERNAME, SUPERUSER_EMAIL, SUPERUSER_PASSWORD')
  process.exit(0)
}

loadEnvFile()
// The app's own lines (migrations applied, warnings) would mix with the questions.
process.env.LOG_LEVEL ??= 'error'
let app: FastifyInstance | undefined
let code = 0
try {
  app = await buildApp(loadConfig(), {})
  const noInput = values['no-input'] || values.noinput
  const input = noInput ? await fromEnvironment(app) : await interactive(app, { username: values.username, email: values.email })
  const passwordHash = await app.passwords.hash(input.password)
  try {
    await app.users.create({ username: input.username, email: input.email, passwordHash, superuser: true })
  } catch (err) {
    // Someone took the name or the address since it was checked.
    if (err instanceof UniqueViolationError) throw new CommandError(err.fields.includes('username') ? 'That username is already taken.' : 'A user with that email already exists.')
    throw err
  }
  console.log('Superuser created successfully.')
} catch (err) {
  code = 1
  process.stderr.write(err instanceof CommandError ? `Error: ${err.message}\n` : `createsuperuser: ${err instanceof Error ? err.message : String(err)}\n`)
} finally {
  await app?.close().catch(() => {})
}
process.exit(code)
