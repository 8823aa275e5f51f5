// One load run with autocannon (programmatic), with per-connection state: every connection gets
// its own token, session or user (setupClient), and a refresh connection follows its own rotation
// chain, always sending the newest refresh token it received.
import autocannon from 'autocannon'

export interface LoadResult {
  /** Completed responses per second over the run. */
  rps: number
  requests: number
  duration: number
  p50: number
  p97_5: number
  p99: number
  max: number
  non2xx: number
  errors: number
  timeouts: number
  /** A few non-2xx answers, for diagnosis. */
  samples: Array<{ status: number; body: string }>
}

export interface RequestShape {
  method: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
}

export interface LoadSpec {
  url: string
  path: string
  connections: number
  /** Seconds. */
  duration: number
  /** The request of connection i (fixed for the whole run). */
  request?: (i: number) => RequestShape
  /**
   * A rotation chain per connection: the body of the next request from the connection's state,
   * and the new state from a 200 answer.
   */
  chain?: {
    /** The newest refresh token of each connection, updated in place (it outlives one run). */
    states: string[]
    body: (state: string) => string
    next: (responseBody: string) => string
  }
}

// autocannon's per-connection request iterator; not in its types, stable in autocannon 7-9.
interface ClientInternals {
  requestIterator: {
    requests: Array<{
      setupRequest?: (req: Record<string, unknown>) => Record<string, unknown>
      onResponse?: (status: number, body: string) => void
    }>
    rebuildRequest(): void
  }
}

export async function runLoad (spec: LoadSpec): Promise<LoadResult> {
  const samples: LoadResult['samples'] = []
  const keep = (status: number, body: string) => {
    if (samples.length < 5) samples.push({ status, body: body.slice(0, 300) })
  }
  let next = 0
  const base = new URL(spec.url)
  const shape = spec.request?.(0) ?? { method: 'POST' as const, headers: { 'content-type': 'application/json' } }

  const instance = autocannon({
    url: base.origin,
    connections: spec.connections,
    duration: spec.duration,
    // A login under load can wait for a bcrypt worker for several seconds.
    timeout: 30,
    requests: [
      {
        method: shape.method,
        path: spec.path,
        headers: shape.headers ?? {},
        ...(shape.body !== undefined ? { body: shape.body } : {}),
        // Replaced per connection in setupClient; defining it makes autocannon rebuild every request.
        setupRequest: (req) => req
      }
    ],
    setupClient (client) {
      const i = next++
      const request = (client as unknown as ClientInternals).requestIterator.requests[0]!
      if (spec.chain) {
        const chain = spec.chain
        if (chain.states[i] === undefined) throw new Error(`no chain for connection ${i}`)
        request.setupRequest = (req) => ({ ...req, body: chain.body(chain.states[i]!) })
        request.onResponse = (status, body) => {
          if (status === 200) chain.states[i] = chain.next(body)
          else keep(status, body)
        }
      } else {
        const mine = spec.request!(i)
        request.setupRequest = (req) => ({
          ...req,
          headers: { ...(req.headers as Record<string, string>), ...mine.headers },
          ...(mine.body !== undefined ? { body: mine.body } : {})
        })
        request.onResponse = (status, body) => {
          if (status < 200 || status > 299) keep(status, body)
        }
      }
      ;(client as unknown as ClientInternals).requestIterator.rebuildRequest()
    }
  })
  const result = await instance
  return {
    rps: result.requests.total / result.duration,
    requests: result.requests.total,
    duration: result.duration,
    p50: result.latency.p50,
    p97_5: result.latency.p97_5,
    p99: result.latency.p99,
    max: result.latency.max,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    samples
  }
}
