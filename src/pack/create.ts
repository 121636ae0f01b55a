// `mlproject pack`: fetch and pin a project, resolve its environment for a target, and write it all into one .mlpack file.
import { cpSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { ToolError } from "../errors.ts"
import type { Emit } from "../events/event.ts"
import { entryPointFor } from "../project/entry-point.ts"
import { loadProject } from "../project/load.ts"
import { readPythonEnv } from "../project/python-env.ts"
import type { Project } from "../project/types.ts"
import { contentDigest } from "../run/tree-digest.ts"
import { resolveSource, type ProjectSource } from "../source/index.ts"
import { sha256FileHex } from "../util/random.ts"
import type { PackContent, PackManifest } from "./manifest.ts"
import { parsePlatform, type Platform } from "./platform.ts"

type Env = Record<string, string | undefined>

export type PackRequest = {
  uri: string
  version?: string
  entryPoints: string[]
  envManager?: string
  platform?: string
  python?: string
  includeImage: boolean
  output: string
  cwd: string
  env: Env
  emit: Emit
  signal: AbortSignal
}

type PythonLines = { python?: string; build_dependencies: string[]; dependencies: string[] }

/** What the pack's environment is made of: a python_env, or a conda.yaml as MLflow's virtualenv reads it. */
const pythonLines = async (project: Project, manager: string | undefined, emit: Emit): Promise<PythonLines | null> => {
  const env = project.env
  if (env.kind === "python_env") return readPythonEnv(project.root, env.file)
  if (env.kind === "conda_env") {
    if (manager !== "virtualenv" && manager !== "uv") {
      throw new ToolError("pack.env", "a conda_env project packs as a virtualenv only: conda packages cannot be packed as wheels", {
        hint: "give --env-manager virtualenv (MLflow's conversion of conda.yaml to a python_env), or run it with conda where the node has its channels",
      })
    }
    const { pythonEnvFromConda } = await import("../env/conda-to-python.ts")
    const converted = pythonEnvFromConda(project.root, env.file)
    for (const w of converted.warnings) emit({ type: "warning", code: "conda_env.converted", message: w.message, file: env.file })
    return converted.spec
  }
  return null
}

/** The target Python as X.Y: --python, else the project's, else the default python3 of this machine. */
const targetPython = async (given: string | undefined, lines: PythonLines, env: Env): Promise<string> => {
  const wanted = given ?? lines.python
  if (wanted) {
    const match = /^(\d+)\.(\d+)/.exec(wanted)
    if (!match) throw new ToolError("usage", `--python ${wanted}: expected a version like 3.11`)
    return `${match[1]}.${match[2]}`
  }
  const { findInterpreter } = await import("../env/interpreter.ts")
  return (await findInterpreter(undefined, env)).version.split(".").slice(0, 2).join(".")
}

/** Some interpreter with pip to run `pip download` (the target's own when this machine has it). */
const pipRunner = async (python: string, env: Env, signal: AbortSignal): Promise<string> => {
  const { findInterpreter } = await import("../env/interpreter.ts")
  const found = await findInterpreter(python, env, { allowMissing: true, signal }).catch(() => null)
  return found?.path ?? Bun.which("python3", { PATH: env.PATH ?? "" }) ?? "python3"
}

const envKeyOf = async (project: Project, env: Env, signal: AbortSignal): Promise<string | null> => {
  const { planEnvironment } = await import("../env/index.ts")
  const plan = await planEnvironment({ project, manager: "virtualenv", emit: () => {}, env, rebuild: false, signal }).catch(() => null)
  return plan?.key ?? null
}

/** The tree a run would see, `.git` left out, copied as it is (links as links). */
const stageProject = (source: ProjectSource, staging: string, output: string) => {
  const skip = new Set([resolve(output)])
  cpSync(source.root, join(staging, "project"), {
    recursive: true,
    verbatimSymlinks: true,
    filter: (path) => !skip.has(resolve(path)) && !path.split("/").includes(".git"),
  })
}

export const createPack = async (request: PackRequest): Promise<{ file: string; sha256: string; bytes: number; manifest: PackManifest }> => {
  const platform: Platform = parsePlatform(request.platform)
  const output = resolve(request.cwd, request.output)
  const source = await resolveSource({ uri: request.uri, version: request.version, cwd: request.cwd, emit: request.emit, env: request.env, signal: request.signal })
  const staging = mkdtempSync(join(dirname(output), ".mlpack-staging-"))
  try {
    const { project } = loadProject(source.dir, { root: source.root })
    for (const name of request.entryPoints) entryPointFor(project, name)
    stageProject(source, staging, output)
    const lines = await pythonLines(project, request.envManager, request.emit)
    const wheels: Array<{ file: string; sha256: string }> = []
    let python: string | null = null
    let key: string | null = null
    if (lines) {
      python = await targetPython(request.python, lines, request.env)
      const dest = join(staging, "wheels")
      mkdirSync(dest)
      const { resolveWheels } = await import("./wheels.ts")
      const files = await resolveWheels({ pip: await pipRunner(python, request.env, request.signal), python, platform, lines, projectDir: project.dir, dest, env: request.env, signal: request.signal })
      for (const file of files) wheels.push({ file: `wheels/${file}`, sha256: await sha256FileHex(join(dest, file)) })
      key = await envKeyOf(project, request.env, request.signal)
      request.emit({ type: "pack.wheels", count: files.length, platform, python })
    }
    let image: PackManifest["image"] = null
    if (project.env.kind === "docker" && request.includeImage) {
      const [{ connectDocker }, { saveImage }] = await Promise.all([import("../util/docker-api.ts"), import("./image.ts")])
      const docker = await connectDocker(request.env, request.signal)
      mkdirSync(join(staging, "image"))
      const name = project.env.docker.image
      const saved = await saveImage(name, join(staging, "image", "image.tar"), { docker, env: request.env, emit: request.emit, signal: request.signal })
      image = { name, id: saved.id, file: "image/image.tar", sha256: await sha256FileHex(join(staging, "image", "image.tar")) }
    }
    const digest = contentDigest(source.root, { env: request.env }).digest
    const manifest: PackContent = {
      source: { uri: source.name, commit: source.git?.commit ?? null, tree_digest: digest, subdirectory: relative(source.root, source.dir) || null },
      project: { name: project.name, entry_points: request.entryPoints.length > 0 ? request.entryPoints : project.entry_points.map((ep) => ep.name) },
      env: {
        kind: project.env.kind,
        manager: lines ? "virtualenv" : project.env.kind === "docker" ? "docker" : "local",
        key,
        python,
        platform,
        wheels,
        ...(lines ? { build_dependencies: lines.build_dependencies, dependencies: lines.dependencies } : {}),
      },
      image,
    }
    const { writePack } = await import("./format.ts")
    const written = await writePack(staging, manifest, output, {})
    return { file: output, ...written }
  } finally {
    rmSync(staging, { recursive: true, force: true })
    await source.cleanup()
  }
}
