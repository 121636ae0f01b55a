// The archive fetcher: .zip, .tar, .tar.gz, .tgz from a path or http(s), cached by the archive's sha256, extracted safely.
import { closeSync, lstatSync, mkdirSync, openSync, readSync, readdirSync, rmSync, statSync } from "node:fs"
import { join } from "node:path"
import { ToolError } from "../errors.ts"
import { statIfPresent } from "../util/fs-atomic.ts"
import { sha256FileHex } from "../util/random.ts"
import { limitsFrom } from "./archive-rules.ts"
import { ensureEntry, projectsDir, reapDead, scratchName } from "./cache.ts"
import { download } from "./download.ts"
import { reporter, type Reporter } from "./progress.ts"
import { schemeOf } from "./uri.ts"
import { sourceFrom, type Fetcher } from "./working.ts"

/** The first bytes: enough for the zip and gzip signatures and tar's `ustar` at offset 257. */
const magic = (file: string): Buffer => {
  const fd = openSync(file, "r")
  try {
    const head = Buffer.alloc(262)
    const read = readSync(fd, head, 0, head.length, 0)
    return head.subarray(0, read)
  } finally {
    closeSync(fd)
  }
}

const isGzip = (head: Buffer) => head[0] === 0x1f && head[1] === 0x8b
const isTar = (head: Buffer) => head.subarray(257, 262).toString("latin1") === "ustar"

/**
 * A file named `.zip` that is neither zip nor tar inside is reported as the zip it claims to be: "not a readable tar
 * archive" about a .zip sends people the wrong way.
 */
const notAZip = (name: string, head: Buffer): ToolError | null => {
  if (!/\.zip$/i.test(name.split(/[?#]/)[0] as string) || isGzip(head) || isTar(head)) return null
  const text = head.toString("latin1").trimStart()
  const detail = head.length === 0 ? "the file is empty" : /^<(!doctype|html|\?xml)/i.test(text) ? "it is an HTML or XML page, not a zip" : "it does not start with a zip signature (PK)"
  return new ToolError("source.archive.invalid", `${name} is not a readable zip archive: ${detail}`, {
    hint: "check that the file is a complete .zip (a failed download is often an HTML error page)",
  })
}

/** Extracts by content (not by name): zip, or tar with or without gzip. Nothing is left in `dest` on failure. */
export const extractArchive = async (file: string, dest: string, name: string, env: Record<string, string | undefined>, report: Reporter): Promise<void> => {
  const limits = limitsFrom(env)
  mkdirSync(dest, { recursive: true })
  try {
    const head = magic(file)
    const isZip = head[0] === 0x50 && head[1] === 0x4b && (head[2] === 3 || head[2] === 5)
    const mislabelled = isZip ? null : notAZip(name, head)
    if (mislabelled) throw mislabelled
    // Loaded on use: node-tar is not needed to start every other command.
    const extract = isZip ? (await import("./zip.ts")).extractZip : (await import("./tar.ts")).extractTar
    await extract(file, dest, name, limits, report)
  } catch (error) {
    rmSync(dest, { recursive: true, force: true })
    if (error instanceof ToolError) throw error
    throw new ToolError("source.archive.invalid", `could not extract ${name}: ${(error as Error).message}`, { cause: error })
  }
}

// Folders that archiving tools add beside the real content; they do not count against a single top folder.
const noise = new Set(["__MACOSX"])

/** An archive holding one top-level folder (GitHub tarballs, most release archives) has its project in that folder. */
export const topFolder = (tree: string): string => {
  const names = readdirSync(tree).filter((name) => !noise.has(name))
  if (names.length !== 1) return ""
  const only = names[0] as string
  return lstatSync(join(tree, only)).isDirectory() ? only : ""
}

/** Extracts into `tmp/tree` and describes the entry. */
export const buildArchiveEntry = async (tmp: string, file: string, id: string, name: string, env: Record<string, string | undefined>, report: Reporter) => {
  const tree = join(tmp, "tree")
  await extractArchive(file, tree, name, env, report)
  return { kind: "archive" as const, id, root: topFolder(tree), source: name, created: new Date().toISOString() }
}

export const fetchArchive: Fetcher = async (target, request) => {
  const env = request.env ?? process.env
  // Unusable limits fail before anything is downloaded.
  limitsFrom(env)
  const report = reporter(request.emit, target.name, "archive")
  const projects = projectsDir(env)
  let file = target.path
  let downloaded: string | null = null
  let digest: string | undefined
  try {
    if (file !== undefined) {
      if (!statIfPresent(file)?.isFile()) {
        throw new ToolError("source.not_found", `archive '${target.name}' does not exist (resolved to ${file})`, { hint: "check the path" })
      }
    } else {
      const tmp = join(projects, "tmp")
      mkdirSync(tmp, { recursive: true })
      reapDead(tmp)
      downloaded = join(tmp, `${scratchName()}.download`)
      file = downloaded
      const scheme = schemeOf(target.base)
      if (scheme === "http" || scheme === "https") {
        digest = (await download(target.base, downloaded, { name: target.name, report, signal: request.signal, env })).sha256
      } else {
        // s3://, gs://, dbfs:/ through the storage layer (its SDKs load only now); it emits download.* events itself.
        const storage = await import("../storage/index.ts")
        await storage.download(target.base, downloaded, { env, signal: request.signal, emit: request.emit })
      }
    }
    const source = file
    if (digest === undefined) {
      report.progress("hashing")
      digest = await sha256FileHex(source)
    }
    const id = digest
    const { entry, cached } = await ensureEntry(join(projects, "archive", id), (tmp) => buildArchiveEntry(tmp, source, id, target.name, env, report), {
      signal: request.signal,
      onWait: () => report.progress("waiting for another run extracting the same archive"),
    })
    report.done(null, cached)
    return await sourceFrom(entry, target, target.subdir, "archive", undefined, env)
  } finally {
    if (downloaded) rmSync(downloaded, { force: true })
  }
}
