// Retry policies for the HTTP helper: which answers are retried, how long to wait, and when Retry-After decides.

export type RetryPolicy = {
  /** Attempts after the first. */
  retries: number
  /** Answered statuses worth another attempt; no answer at all (refused, reset, timed out) always is. */
  retryStatus: (status: number) => boolean
  /** The wait before retry `n` (1-based) when the server named none. */
  backoffMs: (retry: number) => number
  /** The statuses whose Retry-After is obeyed, up to `maxMs`; without it the header is ignored. */
  retryAfter?: { statuses: (status: number) => boolean; maxMs: number }
}

// Request timeout, throttled, and the 5xx that mean "not now" rather than "never".
const transient = new Set([408, 429, 500, 502, 503, 504])

export const transientStatus = (status: number): boolean => transient.has(status)

/** Doubling from `baseMs` per retry up to `maxMs`, each wait drawn from the upper half so that clients spread out. */
export const halfJitterBackoff =
  (baseMs: number, maxMs: number) =>
  (retry: number): number => {
    const ceiling = Math.min(maxMs, baseMs * 2 ** (retry - 1))
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2)
  }

/** urllib3's Retry.get_backoff_time: no wait before the first retry, then factor·2^(n-1) plus up to `jitterMs`, capped. */
export const urllib3Backoff =
  (factorMs: number, jitterMs: number, maxMs = 120_000) =>
  (retry: number): number =>
    retry <= 1 ? 0 : Math.min(maxMs, factorMs * 2 ** (retry - 1) + Math.random() * jitterMs)

/** The helper's default: four retries of 408/429/5xx, 250 ms doubling to 30 s, Retry-After obeyed up to 30 s. */
export const defaultRetry: RetryPolicy = {
  retries: 4,
  retryStatus: transientStatus,
  backoffMs: halfJitterBackoff(250, 30_000),
  retryAfter: { statuses: () => true, maxMs: 30_000 },
}

/** Milliseconds a Retry-After header asks for (delta-seconds or an HTTP date), or null. */
export const retryAfterMs = (header: string | null, now = Date.now()): number | null => {
  if (!header) return null
  const seconds = Number(header)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const date = Date.parse(header)
  return Number.isNaN(date) ? null : Math.max(0, date - now)
}

/** The wait before retry `retry`: what the answer's Retry-After asks for when the policy obeys it, else the backoff. */
export const retryDelayMs = (policy: RetryPolicy, retry: number, answer?: Response): number => {
  const obeyed = answer && policy.retryAfter?.statuses(answer.status) ? retryAfterMs(answer.headers.get("retry-after")) : null
  if (obeyed !== null && policy.retryAfter) return Math.min(obeyed, policy.retryAfter.maxMs)
  return policy.backoffMs(retry)
}

// Kept here for its callers: the abortable wait lives with the other waits an interrupt ends.
export { sleep } from "./abort.ts"
