// The Node.js version the service supports, stated once and agreed on: package.json `engines`,
// the Dockerfile's base image and the README; and no production dependency asks for more.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'

const root = new URL('..', import.meta.url).pathname
const read = (path: string) => readFileSync(join(root, path), 'utf8')

/**
 * Whether a dependency's `engines.node` range admits some release of Node `major`: enough of
 * semver for the ranges packages write (`>=22`, `20 || >=22`, `^20.17.0 || >=22.9.0`, `*`).
 */
function admitsMajor (range: string, major: number): boolean {
  return range.split('||').some((alternative) => {
    const m = /^\s*(>=|>|\^|~|=)?\s*v?(\d+|\*|x)?/.exec(alternative)!
    const [op = '', version] = [m[1], m[2]]
    if (version === undefined || version === '*' || version === 'x') return true
    return op === '>=' || op === '>' ? Number(version) <= major : Number(version) === major
  })
}

t.test('the range reading', async (t) => {
  t.ok(admitsMajor('>=22', 22))
  t.notOk(admitsMajor('>=22', 20))
  t.ok(admitsMajor('20 || >=22', 20))
  t.ok(admitsMajor('^20.17.0 || >=22.9.0', 22))
  t.notOk(admitsMajor('^20.17.0', 22))
  t.ok(admitsMajor('>= 20.19.0', 22))
  t.ok(admitsMajor('*', 18))
})

t.test('engines, the Dockerfile and the README name one Node.js version, which every production dependency accepts', async (t) => {
  const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node
  const major = Number(/^>=\s*(\d+)$/.exec(engines)?.[1])
  t.ok(major > 0, `engines.node is ">=<major>": ${engines}`)
  t.match(read('Dockerfile'), new RegExp(`^FROM node:${major}-`, 'm'), 'the image runs that version')
  t.match(read('README.md'), new RegExp(`Node\\.js ${major} or later`), 'the README says so')

  const tree = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: root, encoding: 'utf8' })
  const refusing = tree.split('\n').filter((dir) => dir && dir !== root.replace(/\/$/, '')).flatMap((dir) => {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; version: string; engines?: { node?: string } }
    const range = pkg.engines?.node
    return range && !admitsMajor(range, major) ? [`${pkg.name}@${pkg.version} wants node ${range}`] : []
  })
  t.same(refusing, [], `every production dependency runs on Node ${major}`)
})
