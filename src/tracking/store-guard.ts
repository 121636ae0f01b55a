// Turns filesystem failures inside a store (permissions, a full disk) into ToolErrors naming the store.
import { isToolError, ToolError } from "../errors.ts"
import type { Store } from "./types.ts"
import { errnoOf } from "./fs-atomic.ts"

const asToolError = (error: unknown, location: string, method: string): unknown => {
  // Errors without an errno are bugs: they stay as they are, so the entry point reports them as bugs.
  if (isToolError(error) || errnoOf(error) === undefined) return error
  const message = error instanceof Error ? error.message : String(error)
  return new ToolError("tracking.io", `Tracking store ${location}: ${method} failed: ${message}`, { cause: error, exitCode: 1 })
}

const guard =
  <A extends unknown[], R>(location: string, method: string, fn: (...args: A) => Promise<R>) =>
  async (...args: A): Promise<R> => {
    try {
      return await fn(...args)
    } catch (error) {
      throw asToolError(error, location, method)
    }
  }

export const guardStore = (store: Store): Store => ({
  location: store.location,
  getExperiment: guard(store.location, "getExperiment", store.getExperiment),
  getExperimentByName: guard(store.location, "getExperimentByName", store.getExperimentByName),
  getOrCreateExperiment: guard(store.location, "getOrCreateExperiment", store.getOrCreateExperiment),
  createRun: guard(store.location, "createRun", store.createRun),
  getRun: guard(store.location, "getRun", store.getRun),
  logBatch: guard(store.location, "logBatch", store.logBatch),
  setTag: guard(store.location, "setTag", store.setTag),
  updateRun: guard(store.location, "updateRun", store.updateRun),
  logMetric: guard(store.location, "logMetric", store.logMetric),
})
