// The run's identity and its log: an id in the users' names, a time stamp naming the results
// files, and the log next to them that the children write into too (bench/processes.ts).
import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { openLog } from './processes.js'
import { resultsDir } from './options.js'

export const runId = randomBytes(3).toString('hex')
export const stamp = new Date().toISOString().replace(/[:.]/g, '-')
mkdirSync(resultsDir, { recursive: true })
export const logPath = join(resultsDir, `${stamp}.log`)
export const log = openLog(logPath)

/** A line on the console and in the log. */
export const say = (line: string) => {
  console.log(line)
  log.write(`# ${line}\n`)
}
