// The audit line written without pino's serializer is the line pino writes: the same text, field
// for field and in the same order (the time aside), for values that need escaping too; nothing at
// a level the logger does not write; pino itself where the destination needs pino's metadata.
import { Writable } from 'node:stream'
import pino from 'pino'
import t from 'tap'
import type { FastifyBaseLogger } from 'fastify'
import { lineWriter } from '../../../plugins/app/audit.js'

function capture () {
  const lines: string[] = []
  const stream = new Writable({
    write (chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString())
      done()
    }
  })
  return { lines, stream }
}

const withoutTime = (line: string) => line.replace(/"time":\d+/, '"time":0')

t.test('the same text as pino, for every kind of value', async (t) => {
  const ours = capture()
  const theirs = capture()
  const log = (stream: Writable) => pino({ level: 'info' }, stream).child({ audit: true }, { level: 'info' }) as unknown as FastifyBaseLogger
  const write = lineWriter(log(ours.stream))
  if (!write) throw new Error('no line writer for a plain pino logger')
  const reference = log(theirs.stream)
  // (A header is Latin-1, so a user agent never holds a lone surrogate: JSON.stringify would escape
  // it where pino writes it raw.)
  const agents = ['AuditTest/1.0', 'quote " backslash \\ slash /', 'tab\tnewline\ncontrol\u0001\u007f', 'Latin-1 é ü ÿ', 'é ü 中文 😀', 'x'.repeat(300)]
  for (const [i, agent] of agents.entries()) {
    const line = { reqId: `req-${i}`, event: 'refresh', outcome: 'rotated', user_id: i % 2 ? null : 'a-user', sid: 'sid-1', ip: '::1', user_agent: agent }
    const suspicious = i === 2
    write(suspicious ? 'warn' : 'info', { ...line }, 'audit: refresh rotated')
    reference[suspicious ? 'warn' : 'info']({ ...line }, 'audit: refresh rotated')
  }
  write('info', { reqId: 'r', event: 'logout_all', outcome: 'success', user_id: 'u', sid: null, sessions: 3, ip: '1.2.3.4', user_agent: '' }, 'audit: logout_all success')
  reference.info({ reqId: 'r', event: 'logout_all', outcome: 'success', user_id: 'u', sid: null, sessions: 3, ip: '1.2.3.4', user_agent: '' }, 'audit: logout_all success')
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(ours.lines.length, agents.length + 1)
  t.same(ours.lines.map(withoutTime), theirs.lines.map(withoutTime), 'line for line, byte for byte')
  t.match(ours.lines[0], /^\{"level":30,"time":\d{13},"pid":\d+,"hostname":"[^"]+","audit":true,"reqId":"req-0",/)
})

t.test('nothing at a level the logger does not write', async (t) => {
  const out = capture()
  const write = lineWriter(pino({ level: 'info' }, out.stream).child({ audit: true }, { level: 'silent' }) as unknown as FastifyBaseLogger)
  write?.('warn', { reqId: 'r' }, 'audit: refresh reuse_detected')
  await new Promise((resolve) => setImmediate(resolve))
  t.same(out.lines, [])
})

t.test('a destination that needs pino metadata, or a logger that is not pino: pino writes the line', async (t) => {
  const multi = pino.multistream([{ stream: capture().stream }])
  t.equal(lineWriter(pino({ level: 'info' }, multi) as unknown as FastifyBaseLogger), null)
  const notPino = { info () {}, warn () {}, child () { return notPino } } as unknown as FastifyBaseLogger
  t.equal(lineWriter(notPino), null)
})
