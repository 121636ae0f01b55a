// The wheels a pack carries: pip resolves the project's build and runtime dependencies for the target platform and Python.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ToolError } from "../errors.ts"
import { installerEnv } from "../env/virtualenv.ts"
import { installFile } from "../env/requirements.ts"
import { run } from "../util/exec.ts"
import { pipPlatformTags, type Platform } from "./platform.ts"

type Env = Record<string, string | undefined>

export type WheelRequest = {
  /** An interpreter with pip: it runs `pip download`, whatever its own version (pip targets `python`). */
  pip: string
  /** The target's X.Y. */
  python: string
  platform: Platform
  lines: { build_dependencies: string[]; dependencies: string[] }
  projectDir: string
  dest: string
  env: Env
  signal?: AbortSignal
}

// A line pip would build from source or install in place: no wheel can stand for it on a node without the source.
const localSource = /^(-e\b|--editable\b|\.{1,2}(\/|$)|\/|file:)/

const checkLines = (lines: string[]) => {
  for (const line of lines) {
    const text = line.trim()
    if (!localSource.test(text)) continue
    throw new ToolError("pack.dependency", `the dependency '${text}' is a local source, not a package with wheels: a pack carries binary wheels only`, {
      hint: "build it into a wheel (pip wheel …) and depend on that wheel's package, or vendor the code into the project",
    })
  }
}

/** pip's "No matching distribution found for X" names the requirement that has no wheel for the target. */
const noWheelFor = (stderr: string): string | null => stderr.match(/No matching distribution found for (\S+)/)?.[1] ?? null

const downloadInto = async (request: WheelRequest, which: "build_dependencies" | "dependencies", scratch: string) => {
  const lines = request.lines[which]
  if (lines.length === 0) return
  const file = join(scratch, `${which}.txt`)
  writeFileSync(file, installFile(lines, request.projectDir))
  const abi = `cp${request.python.replace(".", "")}`
  const argv = [
    request.pip, "-m", "pip", "download", "--only-binary=:all:", "--progress-bar", "off", "--dest", request.dest,
    "--python-version", request.python, "--implementation", "cp", "--abi", abi, "--abi", "abi3", "--abi", "none",
    ...pipPlatformTags(request.platform).flatMap((tag) => ["--platform", tag]),
    "-r", file,
  ]
  // The user's pip configuration (index, mirrors, certificates) is what a connected machine resolves with.
  const result = await run(argv, { cwd: request.projectDir, env: installerEnv(request.env), output: "capture", signal: request.signal, group: true })
  if (result.code === 0) return
  if (request.signal?.aborted) throw new ToolError("interrupted", "interrupted while pip resolved the pack's wheels", { exitCode: 130 })
  const missing = noWheelFor(result.stderr)
  if (missing) {
    throw new ToolError("pack.no_wheel", `no wheel of '${missing}' for ${request.platform} and Python ${request.python}: a pack carries binary wheels only, and pip found none`, {
      hint: "pick a version that publishes wheels for that platform, build one (pip wheel) into your index, or pack for another --platform/--python",
    })
  }
  const tail = result.stderr.trim().split("\n").slice(-8).join("\n")
  throw new ToolError("pack.resolve", `pip could not resolve the ${which.replace("_", " ")} for ${request.platform} and Python ${request.python}:\n${tail}`, { exitCode: 1 })
}

/** Downloads every wheel of the fully resolved sets into `dest`; returns their file names, sorted. */
export const resolveWheels = async (request: WheelRequest): Promise<string[]> => {
  checkLines([...request.lines.build_dependencies, ...request.lines.dependencies])
  const scratch = mkdtempSync(join(tmpdir(), "mlproject-pack-"))
  try {
    await downloadInto(request, "build_dependencies", scratch)
    await downloadInto(request, "dependencies", scratch)
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
  const files = readdirSync(request.dest).sort()
  const notWheels = files.filter((name) => !name.endsWith(".whl"))
  if (notWheels.length > 0) throw new ToolError("pack.no_wheel", `pip fetched source distributions, which a pack cannot carry: ${notWheels.join(", ")}`)
  return files
}
