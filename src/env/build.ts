// Builds one cache entry exactly once: lock, re-check, build in place, manifest last; installer steps logged.
import { closeSync, openSync, rmSync, writeSync } from "node:fs"
import { ToolError, isToolError } from "../errors.ts"
import { start } from "../util/exec.ts"
import { ensureDir, entryPaths, readManifest, touchManifest, withdrawManifest, writeManifest, type EntryPaths, type Manifest } from "./cache.ts"
import { installerActivity } from "./activity.ts"
import type { EnvEmit, EnvTool } from "./events.ts"
import { liveLeases } from "../util/lease.ts"
import { acquireLock, type Lock as BuildLock } from "../util/lock.ts"

type Env = Record<string, string | undefined>

export type StepRunner = {
  /** Announces the next step (progress). */
  step(name: string): void
  /** Runs one installer command, streaming its output; throws `env.build.failed` with its own error lines. */
  run(argv: string[], options: { cwd?: string; env: Env; label: string }): Promise<void>
  /** A line for the log file only. */
  note(line: string): void
  paths: EntryPaths
  /** The run's interrupt: a step's own waits (a lock) end with it too. */
  signal?: AbortSignal
}

export type BuildRecipe = {
  tool: EnvTool
  key: string
  root: string
  /** The python version known before building (null when the tool decides). */
  python: string | null
  source: string
  steps: string[]
  /** Builds at `paths.prefix` and returns the python version it ended up with. */
  build(runner: StepRunner): Promise<{ python: string | null }>
}

export type BuildOptions = {
  emit: EnvEmit
  signal?: AbortSignal
  rebuild: boolean
  /** Stream the installers' output as `log` events; otherwise it goes to the log file only, and progress says what they do. */
  verbose?: boolean
}

// pip: "ERROR: …"; uv: "error: …", "× …", "╰─▶ …"; conda: "…Error: …", "…Exception: …".
const isErrorLine = (line: string) => /^(ERROR|error|\w+Error|\w+Exception)\b|^[×╰]/.test(line.trim())

/**
 * The end of the installer's output, for the error of a failed build (the person saw none of it unless --verbose):
 * from its first error line among the last 40 lines, so what a failing build printed between its errors (a compiler's
 * message inside pip's box) is kept, else its last 15 lines.
 */
export const errorSummary = (tail: string[]): string => {
  const lines = tail.filter((line) => line.trim() !== "")
  const window = lines.slice(-40)
  const first = window.findIndex(isErrorLine)
  return (first === -1 ? lines.slice(-15) : window.slice(first).slice(-20)).join("\n")
}

// A progress line follows the installer at a readable pace; JSON consumers are not flooded.
const activityIntervalMs = 200

const stepRunner = (recipe: BuildRecipe, paths: EntryPaths, lock: BuildLock, log: number, options: BuildOptions): StepRunner => {
  let index = 0
  let step = ""
  let lastActivity: string | null = null
  let lastActivityAt = -Infinity
  const write = (line: string) => void writeSync(log, `${line}\n`)
  const progress = (detail?: string) =>
    options.emit({ type: "env.progress", key: recipe.key, step, index, total: recipe.steps.length, ...(detail !== undefined ? { detail } : {}) })
  /** What the installer is doing now, when a line says so: never the same twice, at most every 200 ms. */
  const report = (line: string) => {
    const activity = installerActivity(line)
    const now = performance.now()
    if (activity === null || activity === lastActivity || now - lastActivityAt < activityIntervalMs) return
    lastActivity = activity
    lastActivityAt = now
    progress(activity)
  }
  return {
    paths,
    signal: options.signal,
    note: write,
    step(name) {
      index++
      step = name
      lastActivity = null
      write(`# [${index}/${recipe.steps.length}] ${name}`)
      progress()
    },
    async run(argv, { cwd, env, label }) {
      write(`$ ${argv.join(" ")}${cwd ? `   (in ${cwd})` : ""}`)
      const tail: string[] = []
      const handle = start(argv, {
        cwd,
        env,
        group: true,
        output: "lines",
        signal: options.signal,
        onLine: (_stream, line) => {
          write(line)
          tail.push(line)
          if (tail.length > 400) tail.shift()
          // Installer output goes to stderr: stdout belongs to the entry point (and to JSON lines).
          if (options.verbose) options.emit({ type: "log", stream: "stderr", line })
          else report(line)
        },
      })
      lock.track(handle.pid)
      const result = await handle.done
      lock.untrack(handle.pid)
      if (options.signal?.aborted) throw new ToolError("env.interrupted", `interrupted while ${label}`, { exitCode: 130 })
      if (result.code === 0) return
      const how = result.signal ? `was killed by ${result.signal}` : `exited with code ${result.code}`
      const summary = errorSummary(tail)
      throw new ToolError("env.build.failed", `${label} ${how}${summary ? `:\n${summary}` : ""}`, { exitCode: 1, hint: `full log: ${paths.log}` })
    },
  }
}

/**
 * Returns the entry, building it if needed. Virtualenvs and conda prefixes embed their own absolute path
 * (shebangs, activate scripts, conda's prefix replacement), so they cannot be built elsewhere and renamed:
 * the build happens in place, under the lock, and the manifest written last is what publishes it. A
 * folder without a manifest (a crash, a kill) is never trusted: the next builder deletes it first.
 */
export const buildOnce = async (recipe: BuildRecipe, options: BuildOptions): Promise<{ cached: boolean; manifest: Manifest }> => {
  const paths = entryPaths(recipe.root, recipe.key)
  const requested = Date.now()
  const usable = (m: Manifest | null): m is Manifest => m !== null && (!options.rebuild || Date.parse(m.created) >= requested)
  const existing = options.rebuild ? null : readManifest(paths)
  if (existing) {
    touchManifest(paths)
    return { cached: true, manifest: existing }
  }
  ensureDir(recipe.root)
  const lock = await acquireLock(paths.lock, {
    signal: options.signal,
    what: "env",
    onWait: (holder) => options.emit({ type: "env.waiting", manager: recipe.tool, key: recipe.key, pid: holder?.pid ?? null }),
  })
  try {
    // Whoever held the lock before us may have built exactly this (a --rebuild-env finished after we asked counts).
    const built = readManifest(paths)
    if (usable(built)) {
      touchManifest(paths)
      return { cached: true, manifest: built }
    }
    // A published environment (only --rebuild-env gets here with one) is withdrawn first, then checked for runs using it.
    const withdrawn = withdrawManifest(paths)
    const users = withdrawn ? liveLeases(paths.leases, { exceptOwn: true }) : []
    if (withdrawn && users.length > 0) {
      withdrawn.restore()
      throw new ToolError("env.busy", `environment ${recipe.key} is in use by ${users.length === 1 ? "process" : "processes"} ${users.map((u) => u.pid).join(", ")}: it cannot be rebuilt now`, {
        hint: "wait for those runs to end, or run without --rebuild-env",
        exitCode: 1,
      })
    }
    withdrawn?.discard()
    rmSync(paths.manifest, { force: true })
    rmSync(paths.prefix, { recursive: true, force: true })
    ensureDir(paths.logDir)
    const log = openSync(paths.log, "w")
    const started = Date.now()
    options.emit({ type: "env.creating", manager: recipe.tool, key: recipe.key, python: recipe.python, prefix: paths.prefix, log: paths.log })
    try {
      const result = await recipe.build(stepRunner(recipe, paths, lock, log, options))
      const manifest: Manifest = {
        format: 1,
        key: recipe.key,
        manager: recipe.tool,
        python: result.python,
        prefix: paths.prefix,
        source: recipe.source,
        created: new Date().toISOString(),
        build_ms: Date.now() - started,
      }
      writeManifest(paths, manifest)
      return { cached: false, manifest }
    } catch (error) {
      // MLflow deletes a failed environment too; the log stays, and its path is in the error.
      rmSync(paths.prefix, { recursive: true, force: true })
      writeSync(log, `# failed: ${(error as Error).message}\n`)
      if (!isToolError(error)) {
        throw new ToolError("env.build.failed", `creating ${recipe.key} failed: ${(error as Error).message}`, { exitCode: 1, hint: `full log: ${paths.log}`, cause: error })
      }
      if (error.code === "env.interrupted" || error.hint?.includes(paths.log)) throw error
      const hint = error.hint ? `${error.hint}; full log: ${paths.log}` : `full log: ${paths.log}`
      throw new ToolError(error.code, error.message, { hint, exitCode: error.exitCode, location: error.location, cause: error })
    } finally {
      closeSync(log)
    }
  } finally {
    lock.release()
  }
}
