// pip requirement lines: the files they reference (-r/-c, recursively), read for the cache key, and the install file.
import { sha256Hex } from "../util/random.ts"
import { readFileSync, realpathSync, statSync } from "node:fs"
import { basename, dirname, isAbsolute, join, resolve } from "node:path"
import { ToolError, isToolError } from "../errors.ts"
import { printable, readProjectFile } from "../project/project-file.ts"

/** A file whose contents define the environment: a requirements/constraints file or a local archive. */
export type ReferencedFile = { path: string; sha256: string }

/** Where a requirement line came from, for located errors. */
export type LineOrigin = { file: string; line?: number }

const reference = /^(?:(-r|-c)\s*=?\s*|(--requirement|--constraint)(?:\s*=\s*|\s+))(\S.*)$/
const urlScheme = /^[a-z][a-z0-9+.-]*:\/\//i
const localArchive = /\.(whl|tar\.gz|tgz|zip|tar\.bz2)$/i

/** pip's logical lines: `\` continuations joined, comments (`#` at the start or after whitespace) and blanks dropped. */
export const logicalLines = (text: string): Array<{ text: string; line: number }> => {
  const out: Array<{ text: string; line: number }> = []
  let pending = ""
  let start = 0
  text.split(/\r?\n/).forEach((raw, index) => {
    if (pending === "") start = index + 1
    if (raw.endsWith("\\")) {
      pending += raw.slice(0, -1)
      return
    }
    const joined = (pending + raw).replace(/(^|\s+)#.*$/, "").trim()
    pending = ""
    if (joined !== "") out.push({ text: joined, line: start })
  })
  const rest = pending.replace(/(^|\s+)#.*$/, "").trim()
  if (rest !== "") out.push({ text: rest, line: start })
  return out
}

/** The file a `-r`/`-c` line points to, or null for any other line. */
export const referenceOf = (line: string): { kind: "requirement" | "constraint"; target: string } | null => {
  const match = reference.exec(line.trim())
  if (!match) return null
  const flag = match[1] ?? match[2] ?? ""
  return { kind: flag === "-c" || flag === "--constraint" ? "constraint" : "requirement", target: (match[3] ?? "").trim() }
}

const sha256 = (bytes: Uint8Array | string) => sha256Hex(bytes)

/** Real requirements files, hashes included, stay well under this; the cap is checked before reading. */
export const maxRequirementsBytes = 4 * 1024 * 1024
/** `-r` chains deeper than this, or more files than this in all, are a loop in disguise or an attack, never a real project. */
const maxNesting = 32
const maxFiles = 1000

/**
 * Python's os.path.join, which pip uses for a nested `-r`: no normalising, so `link/../x` means what the kernel
 * makes of it (through the link), and the file checked is the file pip opens.
 */
const pyJoin = (dir: string, target: string): string => (isAbsolute(target) ? target : `${dir.endsWith("/") ? dir : `${dir}/`}${target}`)

const at = (origin: LineOrigin) => ({ file: origin.file, ...(origin.line ? { line: origin.line } : {}) })

const missing = (target: string, path: string, origin: LineOrigin): ToolError =>
  new ToolError("env.requirements.unreadable", `cannot read requirements file '${printable(target)}' (${printable(path)}): no such file`, {
    hint: "-r/-c paths in python_env.yaml are relative to the project folder; inside a requirements file, to that file's folder",
    location: at(origin),
  })

/** A problem with the file itself (outside the project, a FIFO, too large), located at the line that named it. */
const namedAt = (error: ToolError, origin: LineOrigin): ToolError =>
  new ToolError(error.code, error.message, { hint: error.hint, location: at(origin), cause: error })

/** The text of a requirements file: a regular file inside the project, under the size cap, UTF-8 without NULs. */
const readRequirements = (root: string, target: string, path: string, origin: LineOrigin): string => {
  let read: ReturnType<typeof readProjectFile>
  try {
    read = readProjectFile(root, path, { display: target, what: "requirements file", maxBytes: maxRequirementsBytes })
  } catch (error) {
    throw isToolError(error) ? namedAt(error, origin) : error
  }
  if (read === null) throw missing(target, path, origin)
  let text: string
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(read.bytes)
  } catch {
    text = "\0"
  }
  // Not quoted: a file that is not text may be anything, and its contents do not belong in a message.
  if (text.includes("\0")) {
    throw new ToolError("env.requirements.invalid", `requirements file '${printable(target)}' is not UTF-8 text (binary data?)`, {
      hint: "point -r/-c at a pip requirements file",
      location: at(origin),
    })
  }
  return text
}

/**
 * Every file the lines reference, read now: `-r`/`-c` files recursively (nested paths resolve against the
 * including file's folder, as pip does) and local archives named directly. Every `-r`/`-c` file must be a regular
 * file inside `root` once symlinks are followed. Throws a located `env.requirements.unreadable` (exit 2) for a
 * missing file, `project.outside`/`project.not_regular`/`project.too_large` for one that breaks those rules, and
 * `env.requirements.invalid` for binary data or nesting deeper than 32. URLs are left to pip.
 */
/**
 * Which file a path names for pip's purposes: its folder as the kernel resolves it, plus its own name (a nested `-r`
 * resolves against the folder of the name pip opened, so a symlinked file keeps its own name). `a/../r.txt` and
 * `r.txt` are one file: a cycle through `..` ends.
 */
const identity = (path: string): string => {
  try {
    return join(realpathSync(dirname(path)), basename(path))
  } catch {
    return resolve(path)
  }
}

export const referencedFiles = (lines: string[], baseDir: string, root: string, origin: LineOrigin): ReferencedFile[] => {
  const found = new Map<string, ReferencedFile>()
  const visit = (items: Array<{ text: string; line?: number }>, dir: string, from: LineOrigin, depth: number) => {
    for (const item of items) {
      const here = { file: from.file, ...(item.line ? { line: item.line } : from.line ? { line: from.line } : {}) }
      const ref = referenceOf(item.text)
      if (ref && !urlScheme.test(ref.target)) {
        // The top level is written into the install file as join(baseDir, target), normalised: check that path.
        const path = depth === 0 ? (isAbsolute(ref.target) ? ref.target : join(dir, ref.target)) : pyJoin(dir, ref.target)
        const id = identity(path)
        if (found.has(id)) continue
        if (depth >= maxNesting || found.size >= maxFiles) {
          const why = depth >= maxNesting ? `nest deeper than ${maxNesting} levels (-r inside -r …)` : `name more than ${maxFiles} files`
          throw new ToolError("env.requirements.invalid", `requirements files ${why}`, { hint: "flatten the requirements files", location: here })
        }
        const text = readRequirements(root, ref.target, path, here)
        found.set(id, { path: resolve(path), sha256: sha256(text) })
        visit(logicalLines(text), dirname(path), { file: resolve(path) }, depth + 1)
        continue
      }
      const candidate = item.text.split(/\s+/)[0] ?? ""
      if (ref || !localArchive.test(candidate) || urlScheme.test(candidate)) continue
      const path = depth === 0 ? (isAbsolute(candidate) ? candidate : join(dir, candidate)) : pyJoin(dir, candidate)
      try {
        if (statSync(path).isFile()) found.set(identity(path), { path: resolve(path), sha256: sha256(readFileSync(path)) })
      } catch {
        // pip reports a missing archive itself, with its own message.
      }
    }
  }
  visit(
    lines.map((text) => ({ text })),
    baseDir,
    origin,
    0,
  )
  return [...found.values()]
}

/**
 * The requirements file we hand to pip/uv, run with the project folder as its working directory: `-r`/`-c`
 * targets become absolute (pip resolves them against the generated file's own folder), everything else
 * stays as written, so `./pkg` and `-e .` still mean the project folder, as under MLflow.
 */
export const installFile = (lines: string[], baseDir: string): string =>
  lines
    .map((line) => {
      const ref = referenceOf(line)
      if (!ref || urlScheme.test(ref.target) || isAbsolute(ref.target)) return line
      return `${ref.kind === "constraint" ? "-c" : "-r"} ${join(baseDir, ref.target)}`
    })
    .join("\n") + "\n"
