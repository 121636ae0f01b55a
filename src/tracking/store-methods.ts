// A Store made of one function that answers every method: for stores that wrap, defer or retry another store's calls.
import type { Store } from "./types.ts"

type Method = Exclude<keyof Store, "location" | "paramsAtCreate" | "warm">

const methods: readonly Method[] = ["getExperiment", "getExperimentByName", "getOrCreateExperiment", "createRun", "getRun", "getRunInfo", "searchRuns", "logBatch", "setTag", "updateRun", "logMetric"]

/**
 * `answer(method, args)` runs each call; `location` is what messages name. A loop, not Object.fromEntries: that
 * builtin's first call costs a fresh process about 0.1 ms, and every store call builds two or three of these.
 */
export const storeOf = (location: string, answer: (method: Method, args: unknown[]) => Promise<unknown>, paramsAtCreate = false): Store => {
  const store: Record<string, unknown> = { location, paramsAtCreate }
  for (const method of methods) store[method] = (...args: unknown[]) => answer(method, args)
  return store as unknown as Store
}

/** Calls `method` of `store` with `args`. */
export const callStore = (store: Store, method: Method, args: unknown[]): Promise<unknown> => (store[method] as (...a: unknown[]) => Promise<unknown>)(...args)
