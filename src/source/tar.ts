// Tar archives (plain or gzip): list and check every entry first, then extract with node-tar in strict mode.
import { createReadStream } from "node:fs"
import { Parser, x, type ReadEntry } from "tar"
import { ToolError } from "../errors.ts"
import { checkEntries, entryPath, tally, unsafe, type ArchiveEntry, type Limits } from "./archive-rules.ts"
import type { Reporter } from "./progress.ts"

const kinds: Record<string, ArchiveEntry["type"]> = {
  File: "file",
  OldFile: "file",
  ContiguousFile: "file",
  Directory: "dir",
  SymbolicLink: "symlink",
  Link: "hardlink",
}

const invalid = (name: string, error: unknown): ToolError =>
  error instanceof ToolError
    ? error
    : new ToolError("source.archive.invalid", `${name} is not a readable tar archive: ${(error as Error).message}`, {
        hint: "check that the file is a complete .tar, .tar.gz or .tgz (a failed download is often an HTML error page)",
        cause: error,
      })

/** Every entry of the archive, checked one by one as it is read (limits stop a bomb early). */
const listTar = (file: string, name: string, limits: Limits): Promise<ArchiveEntry[]> =>
  new Promise((resolve, reject) => {
    const entries: ArchiveEntry[] = []
    const count = tally(limits, name)
    const stream = createReadStream(file)
    let failed = false
    const fail = (error: unknown) => {
      if (failed) return
      failed = true
      stream.destroy()
      reject(invalid(name, error))
    }
    const visit = (entry: ReadEntry) => {
      const type = kinds[entry.type]
      if (!type) throw unsafe(name, `entry '${entry.path}' is a ${entry.type}, which a project archive may not contain`)
      const path = entryPath(entry.path, name)
      count({ size: type === "file" ? (entry.size ?? 0) : 0 })
      if (path === null) return
      entries.push({ path, type, size: entry.size ?? 0, ...(entry.linkpath ? { target: entry.linkpath } : {}) })
    }
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry) => {
        if (!failed) {
          try {
            visit(entry)
          } catch (error) {
            fail(error)
          }
        }
        entry.resume()
      },
    })
    parser.on("error", fail)
    parser.on("abort", fail)
    parser.on("end", () => (failed ? undefined : resolve(entries)))
    stream.on("error", fail)
    stream.pipe(parser as unknown as NodeJS.WritableStream)
  })

/** Extracts a checked tar archive into the empty folder `dest`. The caller removes `dest` on failure. */
export const extractTar = async (file: string, dest: string, name: string, limits: Limits, report: Reporter): Promise<void> => {
  const entries = await listTar(file, name, limits)
  checkEntries(entries, name)
  const total = entries.length
  let done = 0
  const allowed = new Set(entries.map((entry) => entry.path))
  try {
    await x({
      file,
      cwd: dest,
      strict: true,
      preservePaths: false,
      preserveOwner: false,
      // Only what the check saw is written (the file cannot change between the passes, but belt and braces).
      filter: (path, entry) => {
        // No setuid, setgid or sticky bits from someone else's archive.
        if ("mode" in entry && typeof entry.mode === "number") entry.mode &= 0o777
        const normal = entryPath(path, name)
        return normal === null || allowed.has(normal)
      },
      onReadEntry: () => report.progress("extracting", ++done, total),
    })
  } catch (error) {
    throw error instanceof ToolError ? error : unsafe(name, (error as Error).message)
  }
}
