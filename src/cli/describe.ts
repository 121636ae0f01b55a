// `mlproject describe [URI]`: a project's environment, entry points, parameters and, with -P, its command.
import { resolveSource, type ProjectSource } from "../source/index.ts"
import { showingPaths, withShownLocation } from "../source/shown-paths.ts"
import { loadProjectCached } from "../project/load-cached.ts"
import { warningFrom, type Emit, type Event } from "../events/event.ts"
import type { Diagnostic, Project } from "../project/types.ts"
import { parsePairs, type Parsed } from "./args.ts"
import { entryPointOption, paramOption, sourceView, versionOption } from "./project-uri.ts"
import type { Command } from "./context.ts"

const envView = (project: Project): Extract<Event, { type: "project.described" }>["env"] => {
  const env = project.env
  if (env.kind === "docker") return { kind: "docker", image: env.docker.image }
  if (env.kind === "none") return { kind: "none" }
  return { kind: env.kind, file: env.file }
}

export const describeCommand: Command = {
  name: "describe",
  usage: "mlproject describe [URI] [-e ENTRY_POINT] [-v VERSION] [-P NAME=VALUE ...] [--json]",
  summary: "Show a project's name, environment, entry points and parameters (types and defaults).\nWith -e or -P, also show the exact command that entry point would run.",
  maxPositionals: 1,
  options: [entryPointOption, versionOption, paramOption],
  async execute(parsed, { emit, cwd, env, interrupt }) {
    const given = parsePairs("-P", parsed.lists["param-list"] ?? [], false)
    const source = await resolveSource({ uri: parsed.positionals[0] ?? ".", version: parsed.values.version, cwd, emit, env, signal: interrupt })
    if (source.pack) emit({ type: "pack.manifest", file: parsed.positionals[0] as string, sha256: source.pack.sha256, manifest: source.pack.manifest })
    try {
      // Loaded as `run` loads it: an unchanged local project comes from the parse cache, without the YAML parser.
      const loaded = await loadProjectCached(source.dir, env, { cache: source.kind === "local", root: source.root })
      const resolver = parsed.values["entry-point"] !== undefined || given.length > 0 ? await commandResolver() : null
      describe(source, loaded, parsed, given, resolver, showingPaths(source, emit), cwd)
    } catch (error) {
      throw withShownLocation(source, error)
    } finally {
      await source.cleanup()
    }
    return 0
  },
}

type Loaded = { project: Project; warnings: Diagnostic[] }

type Resolver = {
  entryPointFor: typeof import("../project/entry-point.ts").entryPointFor
  resolveParameters: typeof import("../project/parameters.ts").resolveParameters
}

/** Loaded only to show a command (-e, -P): describing a project needs neither module. */
const commandResolver = async (): Promise<Resolver> => {
  const [{ entryPointFor }, { resolveParameters }] = await Promise.all([import("../project/entry-point.ts"), import("../project/parameters.ts")])
  return { entryPointFor, resolveParameters }
}

const describe = (source: ProjectSource, { project, warnings }: Loaded, parsed: Parsed, given: Array<[string, string]>, resolver: Resolver | null, emit: Emit, cwd: string): void => {
  for (const warning of warnings) emit(warningFrom(warning))
  let resolved: { entry_point: string; command: string } | undefined
  if (resolver) {
    const name = parsed.values["entry-point"] ?? "main"
    const parameters = resolver.resolveParameters(resolver.entryPointFor(project, name), given, { cwd })
    for (const warning of parameters.warnings) emit(warningFrom(warning))
    resolved = { entry_point: name, command: parameters.command }
  }
  emit({
    type: "project.described",
    ...sourceView(source),
    dir: project.dir,
    file: project.file,
    name: project.name,
    env: envView(project),
    entry_points: project.entry_points.map((ep) => ({
      name: ep.name,
      command: ep.command,
      parameters: ep.parameters.map((p) => ({ name: p.name, type: p.type, declared_type: p.declared_type, default: p.default })),
      problems: ep.problems.map((p) => p.message),
    })),
    ...(resolved ? { resolved } : {}),
  })
}
