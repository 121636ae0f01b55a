// `mlproject env list|gc`: show the cached environments, and remove unused ones.
import { ToolError } from "../errors.ts"
import { envRoot, listEntries } from "../env/cache.ts"
import type { EnvEmit } from "../env/events.ts"
import { collectGarbage, parseAge } from "../env/gc.ts"
import type { Command } from "./context.ts"

const defaultAge = "30d"

export const envCommand: Command = {
  name: "env",
  usage: "mlproject env list|gc [--older-than DURATION] [--all] [--json]",
  summary: [
    "Manage the environments mlproject builds for python_env and conda projects",
    "(in MLFLOW_ENV_ROOT if set, else $MLPROJECT_HOME/envs).",
    "  list   show each environment: key, manager, python, size, last used",
    `  gc     remove environments not used for --older-than (default ${defaultAge}), or --all,`,
    "         and folders left by crashed builds; environments being built or used by a live run are",
    "         skipped, and folders mlproject did not make are left alone (see also: mlproject cache)",
  ].join("\n"),
  maxPositionals: 1,
  options: [
    { long: "older-than", kind: "value", metavar: "DURATION", description: `gc: remove environments unused for this long (45s, 90m, 12h, 30d, 2w; default ${defaultAge})` },
    { long: "all", kind: "flag", description: "gc: remove every environment that is not being built or used" },
  ],
  async execute(parsed, context) {
    // The env events join the Event union in events/event.ts; until then this is where the two meet.
    const emit: EnvEmit = context.emit
    const root = envRoot(context.env)
    const action = parsed.positionals[0]
    if (action === "list") {
      if (parsed.values["older-than"] !== undefined || parsed.flags.all) {
        throw new ToolError("usage", "--older-than and --all apply to 'mlproject env gc', not to list")
      }
      emit({ type: "env.listed", root, envs: listEntries(root) })
      return 0
    }
    if (action === "gc") {
      if (parsed.flags.all && parsed.values["older-than"] !== undefined) {
        throw new ToolError("usage", "give either --all or --older-than, not both")
      }
      const olderThanMs = parseAge(parsed.values["older-than"] ?? defaultAge)
      await collectGarbage(root, { olderThanMs, all: parsed.flags.all ?? false, emit })
      return 0
    }
    throw new ToolError("usage", action === undefined ? "mlproject env needs an action: list or gc" : `unknown action '${action}' for mlproject env`, {
      hint: "mlproject env list, or mlproject env gc [--older-than 30d] [--all]",
    })
  },
}
