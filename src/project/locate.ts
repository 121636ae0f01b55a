// Finds a project's MLproject file: any case, symlinks followed, a directory of that name skipped.
import { readdirSync, readlinkSync, statSync } from "node:fs"
import { join } from "node:path"
import { printable } from "./project-file.ts"
import type { Diagnostic } from "./types.ts"

export type Located = { path: string | null; name: string | null; diagnostics: Diagnostic[] }

const warning = (code: string, message: string, file: string, hint: string): Diagnostic => ({ severity: "warning", code, message, hint, file })


export const locateMLproject = (dir: string): Located => {
  const names = readdirSync(dir).sort()
  // MLflow takes the first os.listdir() match, an order the filesystem decides; sorting makes ours stable.
  const candidates = names.filter((n) => n.toLowerCase() === "mlproject")
  const diagnostics: Diagnostic[] = []
  const files: string[] = []
  for (const name of candidates) {
    const path = join(dir, name)
    let isDir = false
    try {
      isDir = statSync(path).isDirectory()
    } catch {
      // A dangling symlink: MLflow would fail to open it, so it stays a candidate and reading it reports the error.
    }
    if (!isDir) {
      files.push(name)
      continue
    }
    // MLflow opens it and crashes (IsADirectoryError); a folder named like this is usually a Python package.
    diagnostics.push(warning("project.mlproject_dir", `'${name}' is a directory, not an MLproject file; it is ignored`, path, "an MLproject file must be a regular file (or a symlink to one)"))
  }
  const chosen = files[0]
  if (chosen && files.length > 1) {
    diagnostics.push(warning("project.duplicate_file", `several MLproject files differ only in case (${files.join(", ")}); using ${chosen}`, join(dir, chosen), "keep only one of them: MLflow picks one in directory order"))
  }
  if (chosen) return { path: join(dir, chosen), name: chosen, diagnostics }
  for (const name of names.filter((n) => n.toLowerCase().startsWith("mlproject") && !candidates.includes(n))) {
    diagnostics.push(warning("project.misnamed", `found '${printable(name)}', but MLflow only reads a file named MLproject; the folder conventions apply`, join(dir, name), `rename it to MLproject`))
  }
  return { path: null, name: null, diagnostics }
}

/** The target of a symlink, for the message when it points nowhere. */
export const linkTarget = (path: string): string | null => {
  try {
    return readlinkSync(path)
  } catch {
    return null
  }
}
