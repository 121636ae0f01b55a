// `mlproject validate [URI]`: list every error and warning of a project's MLproject file.
import { resolveSource } from "../source/index.ts"
import { shownDiagnostics } from "../source/shown-paths.ts"
import { inspectProject } from "../project/load.ts"
import type { Diagnostic } from "../project/types.ts"
import type { Command } from "./context.ts"
import { sourceView, versionOption } from "./project-uri.ts"

export const validateCommand: Command = {
  name: "validate",
  usage: "mlproject validate [URI] [-v VERSION] [--strict] [--json]",
  summary: "Check a project's MLproject file (and its environment files) and list every error and warning.\nExit 0 when valid, 2 on errors (or on warnings with --strict).",
  maxPositionals: 1,
  options: [versionOption, { long: "strict", kind: "flag", description: "treat warnings as errors (exit 2)" }],
  async execute(parsed, { emit, cwd, env, interrupt }) {
    const source = await resolveSource({ uri: parsed.positionals[0] ?? ".", version: parsed.values.version, cwd, emit, env, signal: interrupt })
    // Resolving a pack verified every file's hash against its manifest.
    if (source.pack) emit({ type: "pack.manifest", file: parsed.positionals[0] as string, sha256: source.pack.sha256, manifest: source.pack.manifest })
    let diagnostics: Diagnostic[]
    try {
      const inspected = inspectProject(source.dir, { root: source.root })
      diagnostics = inspected.diagnostics
      // A run checks the environment before it exists: validate reports what that check would refuse.
      if (inspected.project && (inspected.project.env.kind === "python_env" || inspected.project.env.kind === "conda_env")) {
        diagnostics = [...diagnostics, ...(await (await import("../env/inspect.ts")).inspectEnvironment(inspected.project, env, interrupt))]
      }
    } finally {
      await source.cleanup()
    }
    const errors = diagnostics.filter((d) => d.severity === "error").length
    const warnings = diagnostics.length - errors
    const ok = errors === 0 && !(parsed.flags.strict && warnings > 0)
    emit({ type: "project.validated", ...sourceView(source), dir: source.dir, ok, errors, warnings, diagnostics: shownDiagnostics(source, diagnostics) })
    return ok ? 0 : 2
  },
}
