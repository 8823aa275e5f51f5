// Django's CommonPasswordValidator list: common-passwords.txt.gz is the file Django 5.2.17
// ships (django/contrib/auth/, 20,000 passwords by Royce Williams, lower-cased and
// de-duplicated to 19,640; BSD licence, see NOTICE.md). Read once when the plugin starts.
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { gunzipSync } from 'node:zlib'
import { pyStrip } from './validators.js'

const FILE = 'common-passwords.txt.gz'

/** Where the list is: beside this module (tsx), or in the source tree when running from dist/ (tsc copies no data files). */
export function defaultCommonPasswordsPath (): string {
  const candidates = [new URL(`./${FILE}`, import.meta.url), new URL(`../../../../plugins/app/passwords/${FILE}`, import.meta.url)]
  for (const url of candidates) {
    const path = fileURLToPath(url)
    if (existsSync(path)) return path
  }
  throw new Error(`common password list not found (looked for ${candidates.map((u) => fileURLToPath(u)).join(', ')})`)
}

/** Loads a list like Django does: gzip or plain UTF-8, one password a line, each stripped. */
export function loadCommonPasswords (path: string = defaultCommonPasswordsPath()): Set<string> {
  const raw = readFileSync(path)
  const isGzip = raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b
  const text = (isGzip ? gunzipSync(raw) : raw).toString('utf8')
  // Python's text mode uses universal newlines; a final newline ends the last line, not a new one.
  const lines = text.split(/\r\n|\r|\n/)
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop()
  return new Set(lines.map(pyStrip))
}
