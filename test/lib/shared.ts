// Where the shared corpora live; tests that need them skip with a clear message when they are absent.
import { existsSync } from "node:fs"
import { join, resolve } from "node:path"

export const sharedDir = resolve(import.meta.dir, "..", "..", "..", "shared")
export const corpusDir = (name: "mlproject" | "mlruns") => join(sharedDir, "corpus", name)
export const hasShared = existsSync(join(sharedDir, "corpus"))
export const sharedSkipReason = `../shared/corpus is absent (${sharedDir}): corpus tests skipped; CI always has it`
if (!hasShared) console.warn(`note: ${sharedSkipReason}`)
