// "Nothing can run": a project with no declared entry point and no script to run with -e, said plainly by validate.
import { readdirSync, type Dirent } from "node:fs"
import { basename, join } from "node:path"
import { containedFile } from "./project-file.ts"
import { extensionOf } from "./python-url.ts"
import type { Diagnostic, Project } from "./types.ts"
import type { Pos } from "./yaml.ts"

export const scriptExtensions = new Set([".py", ".sh", ".R"])

// A bounded walk: a project with more files than this, or deeper folders, is assumed to hold a script somewhere.
const maxEntries = 20_000
const maxDepth = 6

/** Whether `-e FILE` has anything to run: a .py, .sh or .R regular file inside the project. */
export const hasScript = (project: Pick<Project, "dir" | "root">): boolean => {
  let seen = 0
  let cut = false
  const queue: Array<[string, number]> = [[project.dir, 0]]
  for (let next = queue.shift(); next; next = queue.shift()) {
    const [dir, depth] = next
    let entries: Dirent[]
    try {
      entries = readdirSync(dir, { withFileTypes: true })
    } catch {
      continue
    }
    for (const entry of entries) {
      if (++seen > maxEntries) return true
      const path = join(dir, entry.name)
      if (entry.isDirectory()) {
        if (entry.name.startsWith(".")) continue
        if (depth < maxDepth) queue.push([path, depth + 1])
        else cut = true
        continue
      }
      if (!scriptExtensions.has(extensionOf(entry.name))) continue
      if (entry.isFile()) return true
      if (!entry.isSymbolicLink()) continue
      try {
        if (containedFile(project.root, path, entry.name, "script") !== null) return true
      } catch {
        // A link that leaves the project or names a FIFO cannot be run with -e.
      }
    }
  }
  return cut
}

/**
 * Errors for a project without declared entry points: a key that looks like a misspelt `entry_points` (whatever
 * else the folder holds), or no script either. Both leave `-e script.py` runnable, so they are not file-level.
 */
export const nothingToRun = (project: Project, misspelt: { key: string; pos: Pos } | null): Diagnostic[] => {
  if (project.entry_points.length > 0) return []
  if (misspelt && project.file) {
    return [
      {
        severity: "error",
        code: "project.no_entry_points",
        message: `${basename(project.file)} declares no entry points: '${misspelt.key}' looks like a misspelt 'entry_points'`,
        hint: "rename it to entry_points",
        file: project.file,
        line: misspelt.pos.line,
        column: misspelt.pos.column,
      },
    ]
  }
  if (hasScript(project)) return []
  if (!project.file) {
    return [
      {
        severity: "error",
        code: "project.nothing_to_run",
        message: `no MLproject in ${project.dir}, and no .py, .sh or .R script to run with -e`,
        hint: "add an MLproject file with entry_points, or give the folder that holds it",
        file: project.dir,
      },
    ]
  }
  return [
    {
      severity: "error",
      code: "project.nothing_to_run",
      message: `${basename(project.file)} declares no entry points, and the project has no .py, .sh or .R script to run with -e`,
      hint: "declare entry_points: {main: {command: <shell command>}}",
      file: project.file,
      line: 1,
      column: 1,
    },
  ]
}
