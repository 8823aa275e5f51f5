// The .env file of the working directory (.env.example says "copy to .env"), read by the two
// entry points an operator runs (src/server.ts, scripts/migrate.ts), never by buildApp: tests
// build apps from their own settings. Node's own parser (util.parseEnv, Node 20.12+, the one
// behind --env-file and process.loadEnvFile), so the syntax is Node's: quotes, multi-line quoted
// values (PEM keys), `export`, comments. Not process.loadEnvFile itself: Node 20 reads a line
// without "=" together with the next one as one name, silently losing that setting, so the lines
// are checked first and such a line stops the process instead.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseEnv } from 'node:util'
import { ConfigError } from './config-error.js'

const QUOTES = ['"', "'", '`']
const ASSIGNMENT = /^(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*\s*=\s*(.*)$/

/** The number (from 1) of the first line that is neither blank, a comment nor NAME=value. */
function malformedLine (text: string): number | null {
  const lines = text.split(/\r?\n/)
  let openQuote: string | null = null
  for (const [i, line] of lines.entries()) {
    if (openQuote !== null) {
      // Inside a multi-line quoted value, until the line that closes it.
      if (line.includes(openQuote)) openQuote = null
      continue
    }
    const trimmed = line.trim()
    if (trimmed === '' || trimmed.startsWith('#')) continue
    const value = ASSIGNMENT.exec(trimmed)?.[1]
    if (value === undefined) return i + 1
    const quote = QUOTES.find((q) => value.startsWith(q))
    if (quote && !value.slice(1).includes(quote)) openQuote = quote
  }
  return null
}

/**
 * Sets in `env` every variable of `dir`/.env that `env` does not already have (the real
 * environment wins over the file). Returns the file's path, or null when there is none.
 * Throws ConfigError naming the line (never its text: it may hold a secret) on a malformed one.
 */
export function loadEnvFile (dir = process.cwd(), env: NodeJS.ProcessEnv = process.env): string | null {
  const path = join(dir, '.env')
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new ConfigError(`${path}: ${(err as Error).message}`)
  }
  const bad = malformedLine(text)
  if (bad !== null) throw new ConfigError(`${path} line ${bad}: not NAME=value (nor a comment)`)
  for (const [name, value] of Object.entries(parseEnv(text))) {
    if (env[name] === undefined && value !== undefined) env[name] = value
  }
  return path
}
