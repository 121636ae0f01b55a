// Loaded projects cached by the exact bytes they came from: a sweep of runs parses its MLproject once.
import { sha256Hex } from "../util/random.ts"
import { mkdirSync, readFileSync, readdirSync, utimesSync } from "node:fs"
import { join, resolve } from "node:path"
import { writeFileAtomic } from "../util/fs-atomic.ts"
import { cacheDir } from "../util/paths.ts"
import { buildId } from "../version.ts"
import type { LoadOptions } from "./load.ts"
import { maxYamlBytes, readProjectFile } from "./project-file.ts"
import type { PythonEnv } from "./python-env.ts"
import type { Diagnostic, Project } from "./types.ts"

type Loaded = { project: Project; warnings: Diagnostic[] }
/**
 * What the result was read from beyond the MLproject file itself: env files, as path and content hash ("missing");
 * and a valid python_env.yaml as parsed then, so planning its environment needs no YAML parser either.
 */
type CacheRecord = { depends: Array<[string, string]>; loaded: Loaded; pythonEnv?: PythonEnv }

// Filled by a cache hit, whose check has just hashed the file's bytes: valid for this process's run.
const parsedEnvFiles = new Map<string, PythonEnv>()

/** python_env.yaml as the cached load parsed it, when this process's load was a cache hit that checked its bytes. */
export const parsedPythonEnv = (file: string): PythonEnv | undefined => parsedEnvFiles.get(file)

/** The parsed python_env.yaml worth keeping with a load: the project's own, when the loader found nothing wrong with it. */
const pythonEnvOf = async (loaded: Loaded, root: string): Promise<PythonEnv | undefined> => {
  const env = loaded.project.env
  if (env.kind !== "python_env" || loaded.project.diagnostics.some((d) => d.code === "python_env.invalid")) return undefined
  try {
    return (await import("./python-env.ts")).readPythonEnv(root, env.file)
  } catch {
    return undefined
  }
}

/**
 * The hash of a project file read under the loader's own rules (inside the root, a regular file, at most the YAML
 * size cap): a symlink to /dev/zero or a 3 GB file is never read to compute a key. Anything else is "unusable",
 * and the loader reports why.
 */
const stateOf = (root: string, path: string): string => {
  try {
    const read = readProjectFile(root, path, { display: path, what: "", maxBytes: maxYamlBytes })
    return read === null ? "missing" : sha256Hex(read.bytes)
  } catch {
    return "unusable"
  }
}

/** Whether every file a record depends on is as it was; a loop: Array#every's first call costs a fresh process ~0.05 ms. */
const unchanged = (root: string, depends: Array<[string, string]>): boolean => {
  for (const [file, state] of depends) if (stateOf(root, file) !== state) return false
  return true
}

/** A record's mtime is its last use, for `mlproject cache gc`; a read-only cache only loses that. */
const touch = (path: string): void => {
  try {
    const now = new Date()
    utimesSync(path, now, now)
  } catch {
    // Read-only.
  }
}

const load = async (dir: string, options: LoadOptions): Promise<Loaded> => (await import("./load.ts")).loadProject(dir, options)

/** Loads the loader's code (and the YAML parser) ahead of its first use, while the command waits on a fetch. */
export const warmLoader = (): void => void import("./load.ts").catch(() => {})

/**
 * The key covers the build (a digest of the sources), the folder, its file names (the folder conventions and the
 * MLproject lookup depend on them) and the MLproject bytes; env files the result depends on are re-checked on every
 * hit. Running from source never caches.
 */
export const loadProjectCached = async (dir: string, env: Record<string, string | undefined>, options: LoadOptions & { cache: boolean } = { cache: true }): Promise<Loaded> => {
  const root = resolve(options.root ?? dir)
  const loadOptions = { root }
  if (!options.cache || buildId === null || env.MLPROJECT_PARSE_CACHE === "false") return load(dir, loadOptions)
  let key: string
  try {
    const names = readdirSync(dir).sort()
    let file: string | undefined
    for (const name of names) if (file === undefined && name.toLowerCase() === "mlproject") file = name
    const state = file ? stateOf(root, join(dir, file)) : "none"
    // A file the loader refuses is never cached: its error is reported afresh every time.
    if (state === "unusable") return load(dir, loadOptions)
    key = sha256Hex([buildId, dir, root, names.join("\0"), state].join("\n"))
  } catch {
    // Let the loader report what is wrong with the folder.
    return load(dir, loadOptions)
  }
  const folder = cacheDir("parsed", env)
  const path = join(folder, `${key}.json`)
  try {
    const record = JSON.parse(readFileSync(path, "utf8")) as CacheRecord
    if (unchanged(root, record.depends)) {
      touch(path)
      const env = record.loaded.project.env
      if (record.pythonEnv && env.kind === "python_env" && record.depends.some(([file]) => file === env.file)) parsedEnvFiles.set(env.file, record.pythonEnv)
      return record.loaded
    }
  } catch {
    // No record yet, or an unreadable one: load and write it again.
  }
  const loaded = await load(dir, loadOptions)
  const envFile = loaded.project.env.kind === "python_env" || loaded.project.env.kind === "conda_env" ? loaded.project.env.file : null
  const state = envFile ? stateOf(root, envFile) : null
  // Kept only when the file's bytes did not change while it was parsed: the parse must be of the hashed bytes.
  const parsed = await pythonEnvOf(loaded, root)
  const pythonEnv = parsed && envFile && stateOf(root, envFile) === state ? parsed : undefined
  const record: CacheRecord = { depends: envFile && state ? [[envFile, state]] : [], loaded, ...(pythonEnv ? { pythonEnv } : {}) }
  try {
    mkdirSync(folder, { recursive: true })
    // A temp file named by its owner and removed when the write fails: a full disk leaves nothing behind.
    writeFileAtomic(path, JSON.stringify(record))
  } catch {
    // A read-only cache only costs the next run a parse.
  }
  return loaded
}
