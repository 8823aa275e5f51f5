// Whether an invalidation channel can be trusted, proved end to end: a canary written through the
// path real revocations take (a key written by the reading Redis client, a NOTIFY sent by the
// database's pool) must come back on the channel within the deadline. The channel is confirmed
// only by a canary sent after it opened and after the last loss; a canary missing its deadline,
// a close, or any event that could have lost a notice (lost()) unconfirms it at once. Each channel
// is FIFO (one Redis connection; PostgreSQL delivers in commit order), so a canary that arrives
// also proves that every notice queued before it has been read.

export interface CanaryOptions {
  /** What the canary ids of this instance start with (other instances' canaries are ignored). */
  instance: string
  /** A canary every heartbeat; one not back within a heartbeat is a lag (ms). */
  heartbeatMs: number
  /** Sends canary `id` the way revocations go; the channel should bring it back. */
  send: (id: string) => Promise<void>
  /** Called when confirmed turns true or false. */
  onChange: () => void
  /** Called after this many canaries in a row failed while open: the channel should reconnect. */
  onStuck?: () => void
}

/** Canaries lost in a row (while the channel is open) before it is reconnected. */
const STUCK_AFTER = 5

export class Canary {
  #confirmed = false
  #open = false
  #generation = 0
  #seq = 0
  #failures = 0
  readonly #outstanding = new Map<string, { generation: number; timer: NodeJS.Timeout }>()
  readonly #heartbeat: NodeJS.Timeout
  readonly #opts: CanaryOptions

  constructor (opts: CanaryOptions) {
    this.#opts = opts
    this.#heartbeat = setInterval(() => {
      if (this.#open) this.probe()
    }, opts.heartbeatMs)
    this.#heartbeat.unref()
  }

  get confirmed (): boolean {
    return this.#confirmed
  }

  /** The channel listens (subscribed, LISTENing): probed at once. */
  opened (): void {
    this.#open = true
    this.#failures = 0
    this.probe()
  }

  /** The channel dropped: unconfirmed until it opens again and a canary comes back. */
  closed (): void {
    this.#open = false
    this.lost()
  }

  /** Anything that could have lost a notice: unconfirmed until a canary sent from now on comes back. */
  lost (): void {
    this.#generation++
    if (this.#confirmed) {
      this.#confirmed = false
      this.#opts.onChange()
    }
  }

  /** Sends a canary now (also the heartbeat's job). */
  probe (): void {
    const id = `${this.#opts.instance}.${++this.#seq}`
    const generation = this.#generation
    const timer = setTimeout(() => {
      if (!this.#outstanding.delete(id)) return
      if (this.#open && ++this.#failures >= STUCK_AFTER) {
        this.#failures = 0
        this.#opts.onStuck?.()
      }
      if (generation === this.#generation) this.lost()
    }, this.#opts.heartbeatMs)
    timer.unref()
    this.#outstanding.set(id, { generation, timer })
    // A canary that cannot be sent simply never comes back: its deadline tells.
    this.#opts.send(id).catch(() => {})
  }

  /** A canary id read on the channel (any instance's: others' are ignored). */
  received (id: string): void {
    const entry = this.#outstanding.get(id)
    if (!entry) return
    clearTimeout(entry.timer)
    this.#outstanding.delete(id)
    this.#failures = 0
    if (entry.generation === this.#generation && this.#open && !this.#confirmed) {
      this.#confirmed = true
      this.#opts.onChange()
    }
  }

  /** Stops the heartbeat; the channel stays unconfirmed for good. */
  stop (): void {
    clearInterval(this.#heartbeat)
    for (const { timer } of this.#outstanding.values()) clearTimeout(timer)
    this.#outstanding.clear()
    this.#open = false
    this.lost()
  }
}
