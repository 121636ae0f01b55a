// How a project's file paths are shown: a fetched project's relative to its repository or archive (its working copy is gone once the command ends), a local one's as they are.
import { relative, sep } from "node:path"
import { ToolError } from "../errors.ts"
import type { Emit, Event } from "../events/event.ts"
import type { Diagnostic } from "../project/types.ts"
import type { ProjectSource } from "./index.ts"

type Located = { file?: string }

/** The path as the user should see it: `MLproject`, `sub/python_env.yaml` for a fetched project. */
export const shownPath = (source: ProjectSource, path: string): string => {
  if (source.kind === "local") return path
  const inside = path === source.root || path.startsWith(`${source.root}${sep}`)
  return inside ? relative(source.root, path) || "." : path
}

const located = <T extends Located>(source: ProjectSource, value: T): T => (value.file ? { ...value, file: shownPath(source, value.file) } : value)

export const shownDiagnostics = (source: ProjectSource, diagnostics: Diagnostic[]): Diagnostic[] => diagnostics.map((d) => located(source, d))

/** An emit that shows the files named by warnings and errors as `shownPath` does. */
export const showingPaths = (source: ProjectSource, emit: Emit): Emit => {
  if (source.kind === "local") return emit
  return (event: Event) => emit(event.type === "warning" || event.type === "error" ? located(source, event) : event)
}

/** The same error, its location shown as `shownPath` does. */
export const withShownLocation = (source: ProjectSource, error: unknown): unknown => {
  if (source.kind === "local" || !(error instanceof ToolError) || !error.location?.file) return error
  const location = { ...error.location, file: shownPath(source, error.location.file) }
  return new ToolError(error.code, error.message, { hint: error.hint, location, exitCode: error.exitCode, cause: error.cause, runId: error.runId })
}
