// A Store made of one function that answers every method: for stores that wrap, defer or retry another store's calls.
import type { Store } from "./types.ts"

type Method = Exclude<keyof Store, "location">

const methods: readonly Method[] = ["getExperiment", "getExperimentByName", "getOrCreateExperiment", "createRun", "getRun", "getRunInfo", "searchRuns", "logBatch", "setTag", "updateRun", "logMetric"]

/** `answer(method, args)` runs each call; `location` is what messages name. */
export const storeOf = (location: string, answer: (method: Method, args: unknown[]) => Promise<unknown>): Store =>
  Object.fromEntries([["location", location], ...methods.map((method) => [method, (...args: unknown[]) => answer(method, args)])]) as Store

/** Calls `method` of `store` with `args`. */
export const callStore = (store: Store, method: Method, args: unknown[]): Promise<unknown> => (store[method] as (...a: unknown[]) => Promise<unknown>)(...args)
