// pip requirement lines: the files they reference (-r/-c, recursively), read for the cache key, and the install file.
import { createHash } from "node:crypto"
import { readFileSync, statSync } from "node:fs"
import { dirname, isAbsolute, join, relative } from "node:path"
import { ToolError } from "../errors.ts"

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

const sha256 = (bytes: Uint8Array | string) => createHash("sha256").update(bytes).digest("hex")

const unreadable = (target: string, path: string, origin: LineOrigin, error: unknown): ToolError => {
  const reason = (error as { code?: string }).code === "ENOENT" ? "no such file" : (error as Error).message
  return new ToolError("env.requirements.unreadable", `cannot read requirements file '${target}' (${path}): ${reason}`, {
    hint: "-r/-c paths in python_env.yaml are relative to the project folder; inside a requirements file, to that file's folder",
    location: { file: origin.file, ...(origin.line ? { line: origin.line } : {}) },
  })
}

/**
 * Every file the lines reference, read now: `-r`/`-c` files recursively (nested paths resolve against the
 * including file's folder, as pip does) and local archives named directly. Throws a located
 * `env.requirements.unreadable` (exit 2) for a missing or unreadable file. URLs are left to pip.
 */
export const referencedFiles = (lines: string[], baseDir: string, origin: LineOrigin): ReferencedFile[] => {
  const found = new Map<string, ReferencedFile>()
  const visit = (items: Array<{ text: string; line?: number }>, dir: string, from: LineOrigin) => {
    for (const item of items) {
      const at = { file: from.file, ...(item.line ? { line: item.line } : from.line ? { line: from.line } : {}) }
      const ref = referenceOf(item.text)
      if (ref && !urlScheme.test(ref.target)) {
        const path = isAbsolute(ref.target) ? ref.target : join(dir, ref.target)
        if (found.has(path)) continue
        let text: string
        try {
          text = readFileSync(path, "utf8")
        } catch (error) {
          throw unreadable(ref.target, path, at, error)
        }
        found.set(path, { path, sha256: sha256(text) })
        visit(logicalLines(text), dirname(path), { file: relativeTo(baseDir, path) })
        continue
      }
      const candidate = item.text.split(/\s+/)[0] ?? ""
      if (ref || !localArchive.test(candidate) || urlScheme.test(candidate)) continue
      const path = isAbsolute(candidate) ? candidate : join(dir, candidate)
      try {
        if (statSync(path).isFile()) found.set(path, { path, sha256: sha256(readFileSync(path)) })
      } catch {
        // pip reports a missing archive itself, with its own message.
      }
    }
  }
  visit(
    lines.map((text) => ({ text })),
    baseDir,
    origin,
  )
  return [...found.values()]
}

const relativeTo = (base: string, path: string) => {
  const rel = relative(base, path)
  return rel.startsWith("..") ? path : rel
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
