// Holds one side of a race at a hook, so a test places the other side exactly where it wants it
// instead of hoping for timing: the next call of `object[method]` stops before it runs until
// released; later calls pass straight through.

export interface Held {
  /** Resolves when the held call has arrived. */
  reached: Promise<void>
  /** Lets the held call run (and every later one). */
  release(): void
}

export function hold<T extends object, K extends keyof T> (object: T, method: K): Held {
  const original = object[method] as (...args: unknown[]) => Promise<unknown>
  let arrive!: () => void
  let open!: () => void
  const reached = new Promise<void>((resolve) => { arrive = resolve })
  const gate = new Promise<void>((resolve) => { open = resolve })
  let first = true
  const wrapped = async (...args: unknown[]) => {
    if (first) {
      first = false
      arrive()
      await gate
    }
    return original.apply(object, args)
  }
  object[method] = wrapped as T[K]
  return {
    reached,
    release () {
      object[method] = original as T[K]
      open()
    }
  }
}
