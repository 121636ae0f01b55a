// Waits that an interrupt or a deadline ends: an abortable sleep, a timed wait, and work that cannot be cancelled itself (an SDK call, stdin) raced against a signal.

/** Settles as `work` does, or rejects with the signal's reason as soon as it aborts; the work itself is left behind. */
export const untilAborted = <T>(work: Promise<T>, signal?: AbortSignal): Promise<T> => {
  if (!signal) return work
  if (signal.aborted) {
    work.catch(() => {})
    return Promise.reject(signal.reason)
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener("abort", onAbort, { once: true })
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort))
  })
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort)
      resolve()
    }, ms)
    signal?.addEventListener("abort", onAbort, { once: true })
  })

export const timedOut: unique symbol = Symbol("timed out")

/** Settles as `work` does, or resolves to `timedOut` after `ms`; the timer is cleared either way, so it never holds the exit. */
export const within = <T>(work: Promise<T>, ms: number): Promise<T | typeof timedOut> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<typeof timedOut>((resolve) => (timer = setTimeout(() => resolve(timedOut), Math.max(0, ms))))
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer))
}
