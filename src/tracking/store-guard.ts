// Turns filesystem failures inside a store (permissions, a full disk) into ToolErrors naming the store.
import { isToolError, ToolError } from "../errors.ts"
import type { Store } from "./types.ts"
import { callStore, storeOf } from "./store-methods.ts"
import { errnoOf, isNoSpace } from "../util/fs-atomic.ts"

/**
 * Every write of the file store undoes itself when the disk is full (a temp file removed, an append cut back, a staging
 * folder deleted), so this error can promise that what the store held before is intact.
 */
const diskFull = (error: unknown, location: string, method: string): ToolError => {
  const path = (error as { path?: unknown }).path
  const what = typeof path === "string" ? path : location
  const reason = errnoOf(error) === "EDQUOT" ? "the disk quota is exhausted" : "no space left on the device"
  return new ToolError("tracking.disk_full", `Tracking store ${location}: ${method} failed: ${reason} while writing ${what}`, {
    hint: `free space on the filesystem holding ${location} (df -h ${location}) and run again; the write was undone, so the store holds what it held before`,
    exitCode: 1,
    cause: error,
  })
}

const asToolError = (error: unknown, location: string, method: string): unknown => {
  // Errors without an errno are bugs: they stay as they are, so the entry point reports them as bugs.
  if (isToolError(error) || errnoOf(error) === undefined) return error
  if (isNoSpace(error)) return diskFull(error, location, method)
  const message = error instanceof Error ? error.message : String(error)
  return new ToolError("tracking.io", `Tracking store ${location}: ${method} failed: ${message}`, { cause: error, exitCode: 1 })
}

export const guardStore = (store: Store): Store =>
  storeOf(
    store.location,
    async (method, args) => {
      try {
        return await callStore(store, method, args)
      } catch (error) {
        throw asToolError(error, store.location, method)
      }
    },
    store.paramsAtCreate,
  )
