// The README a newcomer follows: a table of contents, the quick start saying how to change the
// port and host, every link inside the repository leading to a file and heading that exist, and
// the benchmark history kept in docs/performance.md rather than in the README.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, normalize } from 'node:path'
import t from 'tap'

const root = new URL('..', import.meta.url).pathname
const read = (path: string) => readFileSync(join(root, path), 'utf8')

/** The text of a `## name` section, up to the next heading of that level. */
const section = (text: string, name: string) => text.split(/^## /m).find((s) => s.startsWith(name + '\n')) ?? ''

/** The anchors GitHub makes of a Markdown file's headings (outside code blocks). */
function anchors (text: string): Set<string> {
  const prose = text.replace(/^```[^]*?^```/gm, '')
  return new Set([...prose.matchAll(/^#+\s+(.+)$/gm)].map((m) => m[1]!.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-')))
}

/** Links to a path of the repository (or a heading) that lead nowhere. */
function deadLinks (file: string): string[] {
  const text = read(file)
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((link) => !/^[a-z]+:/.test(link)).filter((link) => {
    const [path = '', anchor] = link.split('#')
    const target = path ? normalize(join(dirname(file), path)) : file
    if (!existsSync(join(root, target))) return true
    return anchor !== undefined && !anchors(read(target)).has(anchor)
  })
}

t.test('the quick start says how to change the port and the host', async (t) => {
  const quick = section(read('README.md'), 'Quick start')
  t.match(quick, /PORT=\d+ npm start/)
  t.match(quick, /HOST=0\.0\.0\.0/)
  t.match(quick, /\.env/, 'and where settings can be kept')
})

t.test('a table of contents after the intro names every section', async (t) => {
  const readme = read('README.md')
  const contents = section(readme, 'Contents')
  t.ok(readme.indexOf('## Contents') < readme.indexOf('## Quick start'), 'before the first section')
  const sections = [...readme.matchAll(/^## (.+)$/gm)].map((m) => m[1]!).filter((s) => s !== 'Contents')
  for (const name of sections) t.match(contents, `(#${[...anchors('## ' + name)][0]})`, name)
})

t.test('every link inside the repository leads to a file and heading that exist', async (t) => {
  t.same(deadLinks('README.md'), [])
  t.same(deadLinks('docs/performance.md'), [])
  t.same([...anchors('## Production: PostgreSQL and Redis\n```\n# not a heading\n```')], ['production-postgresql-and-redis'], 'anchors are made as GitHub makes them')
})

t.test('the benchmark history lives in docs/performance.md; the README keeps the latest figures', async (t) => {
  const readme = read('README.md')
  const perf = section(readme, 'Performance')
  t.match(perf, /docs\/performance\.md/)
  t.match(perf, /\| protected +\|/, 'the latest results table')
  t.match(perf, /npm run bench/, 'how to run it')
  t.notMatch(readme, /Where the time goes|### Scaling out|The earlier run, before issues 7 and 8/, 'the analysis and the history moved out')
  for (const heading of ['## Method', '## Results, newest first', '## Scaling out', '## Where the time goes']) t.match(read('docs/performance.md'), heading)
})
