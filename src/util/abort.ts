// Waiting that an interrupt ends: work that cannot be cancelled itself (an SDK call, a read of stdin) raced against a signal.

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
