// `mlproject cache list|gc`: every cache under $MLPROJECT_HOME, and the one policy that removes from them.
import { ToolError } from "../errors.ts"
import { collectCache, kindNames, listCache, type KindName } from "../cache/policy.ts"
import { parseAge, parseSize } from "../cache/units.ts"
import type { Command } from "./context.ts"

const defaultAge = "30d"

const usage = (message: string) => new ToolError("usage", message, { hint: "mlproject cache list, or mlproject cache gc [--older-than 30d] [--max-size 10G] [--kind envs,...]" })

const kindsFrom = (text: string | undefined): readonly KindName[] => {
  if (text === undefined) return kindNames
  const asked = text.split(",").map((k) => k.trim()).filter((k) => k !== "")
  const unknown = asked.filter((k) => !(kindNames as readonly string[]).includes(k))
  if (unknown.length > 0 || asked.length === 0) throw usage(`--kind ${text}: expected some of ${kindNames.join(", ")}`)
  return asked as KindName[]
}

export const cacheCommand: Command = {
  name: "cache",
  usage: "mlproject cache list|gc [--older-than DURATION] [--max-size SIZE] [--kind KINDS] [--json]",
  summary: [
    "Show or trim what mlproject keeps under $MLPROJECT_HOME (and MLFLOW_ENV_ROOT, and Docker):",
    "  projects (fetched trees), pool (reusable working copies), workdirs (working copies of runs),",
    "  downloads, parsed (loaded MLproject files), envs (python environments), runs (run records),",
    "  images (built with --build-image).",
    "  list   each kind: entries, size, last use, entries in use",
    `  gc     remove entries unused for --older-than (default ${defaultAge} when no --max-size is given), then the`,
    "         least recently used until the total is under --max-size; leftovers of processes that are gone",
    "         always go. Never an entry in use by a live process (a run's lease, a build's lock, a running",
    "         container), never anything mlproject did not make.",
  ].join("\n"),
  maxPositionals: 1,
  options: [
    { long: "older-than", kind: "value", metavar: "DURATION", description: `gc: remove entries unused for this long (45s, 90m, 12h, 30d, 2w)` },
    { long: "max-size", kind: "value", metavar: "SIZE", description: "gc: then remove the least recently used until the total is under SIZE (500M, 10G)" },
    { long: "kind", kind: "value", metavar: "KINDS", description: `only these kinds, comma-separated (${kindNames.join(", ")})` },
  ],
  async execute(parsed, context) {
    const action = parsed.positionals[0]
    const only = kindsFrom(parsed.values.kind)
    const olderThan = parsed.values["older-than"]
    const maxSize = parsed.values["max-size"]
    if (action === "list") {
      if (olderThan !== undefined || maxSize !== undefined) throw usage("--older-than and --max-size apply to 'mlproject cache gc', not to list")
      context.emit({ type: "cache.listed", ...(await listCache(context.env, only)) })
      return 0
    }
    if (action === "gc") {
      const maxBytes = maxSize === undefined ? undefined : parseSize(maxSize, "--max-size")
      const olderThanMs = olderThan !== undefined ? parseAge(olderThan, "--older-than") : maxBytes === undefined ? parseAge(defaultAge) : undefined
      await collectCache({ olderThanMs, maxBytes, only, emit: context.emit, env: context.env })
      return 0
    }
    throw usage(action === undefined ? "mlproject cache needs an action: list or gc" : `unknown action '${action}' for mlproject cache`)
  },
}
