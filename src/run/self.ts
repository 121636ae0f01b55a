// The running mlproject binary as an entry point sees it: MLPROJECT_BIN, and `mlproject` on its PATH.
import { sha256Hex } from "../util/random.ts"
import { mkdirSync, readlinkSync, renameSync, symlinkSync } from "node:fs"
import { delimiter, dirname, join } from "node:path"
import { mlprojectHome } from "../util/paths.ts"

type Env = Readonly<Record<string, string | undefined>>

/** The compiled binary that is running, or null when the sources run under `bun` (there is no binary to hand on). */
export const selfBinary = (): string | null => (Bun.main.startsWith("/$bunfs/") ? process.execPath : null)

/**
 * A folder holding only a `mlproject` link to this binary ($MLPROJECT_HOME/bin/<hash>/): put first on PATH it makes
 * `mlproject` mean the binary running the entry point without shadowing anything else in the binary's own folder
 * (a /usr/local/bin full of other tools). Null when it cannot be made (a read-only home).
 */
const linkFolder = (binary: string, env: Env): string | null => {
  const folder = join(mlprojectHome(env), "bin", sha256Hex(binary).slice(0, 12))
  const link = join(folder, "mlproject")
  try {
    if (readlinkSync(link) === binary) return folder
  } catch {
    // Not made yet.
  }
  try {
    mkdirSync(folder, { recursive: true })
    const temporary = `${link}.${process.pid}`
    symlinkSync(binary, temporary)
    renameSync(temporary, link)
    return folder
  } catch {
    return null
  }
}

/** MLPROJECT_BIN and the PATH (given the PATH the entry point would otherwise get) that reach this binary. */
export const selfVariables = (env: Env, path: string | undefined): Record<string, string> => {
  const binary = selfBinary()
  if (!binary) return {}
  const folder = linkFolder(binary, env)
  // Without the link folder the binary's own folder goes last, where it can shadow nothing.
  const searched = folder ? [folder, path] : [path, dirname(binary)]
  return { MLPROJECT_BIN: binary, PATH: searched.filter((part): part is string => Boolean(part)).join(delimiter) }
}
