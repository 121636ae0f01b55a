// `mlproject pack URI -o FILE.mlpack`: one file holding a pinned project and its environment, for a node with no network.
import { ToolError } from "../errors.ts"
import type { Command } from "./context.ts"
import { versionOption } from "./project-uri.ts"

export const packCommand: Command = {
  name: "pack",
  usage: "mlproject pack URI -o FILE.mlpack [-e ENTRY_POINT ...] [-v VERSION] [--env-manager M] [--platform P] [--python X.Y] [--include-image] [--json]",
  summary:
    "Fetch and pin a project, resolve its environment for a target platform and Python (every wheel of its\ndependencies; a docker project's image with --include-image) and write it all into one file that\n`mlproject run FILE.mlpack` runs on a node without any network.",
  maxPositionals: 1,
  options: [
    { long: "output", short: "o", kind: "value", metavar: "FILE.mlpack", description: "the pack to write (required)" },
    { long: "entry-point", short: "e", kind: "list", metavar: "NAME", description: "an entry point the pack is for (repeatable; default: all), checked to exist" },
    versionOption,
    { long: "env-manager", kind: "value", metavar: "MANAGER", description: "virtualenv (default for python_env) or uv; a conda_env project packs as a virtualenv" },
    { long: "platform", kind: "value", metavar: "PLATFORM", description: "linux-x64, linux-arm64 or macos-arm64 (default: this machine)" },
    { long: "python", kind: "value", metavar: "X.Y", description: "the target Python (default: the project's, else this machine's python3)" },
    { long: "include-image", kind: "flag", description: "docker projects: put the image into the pack (loaded on a daemon that lacks it)" },
  ],
  async execute(parsed, { emit, cwd, env, interrupt }) {
    const uri = parsed.positionals[0]
    const output = parsed.values.output
    if (!uri || !output) throw new ToolError("usage", "expected 'mlproject pack URI -o FILE.mlpack'", { hint: "see 'mlproject pack --help'" })
    if (!output.endsWith(".mlpack")) throw new ToolError("usage", `-o ${output}: a pack's name ends in .mlpack (that is how run recognises it)`)
    const { createPack } = await import("../pack/create.ts")
    const written = await createPack({
      uri,
      version: parsed.values.version,
      entryPoints: parsed.lists["entry-point"] ?? [],
      envManager: parsed.values["env-manager"],
      platform: parsed.values.platform,
      python: parsed.values.python,
      includeImage: Boolean(parsed.flags["include-image"]),
      output,
      cwd,
      env,
      emit,
      signal: interrupt,
    })
    emit({ type: "pack.written", file: written.file, sha256: written.sha256, bytes: written.bytes, manifest: written.manifest })
    return 0
  },
}
