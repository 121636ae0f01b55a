// A project's build context: the files .dockerignore keeps (never the run's own store), their content hash, the tar.
import { closeSync, lstatSync, openSync, readSync, readdirSync, readlinkSync } from "node:fs"
import { join, resolve } from "node:path"
import { readProjectFile } from "../project/project-file.ts"
import { isIgnored, parseDockerignore } from "../util/docker-ignore.ts"
import { tarStream, type TarEntry } from "../util/docker-tar.ts"
import { contextBytes } from "./context-git.ts"

export type ContextFile = {
  /** Relative, slash-separated. */
  path: string
  abs: string
  type: "file" | "dir" | "symlink"
  mode: number
  size: number
  mtime: number
  link?: string
  /** What is sent instead of the file's bytes (a `.git/config` without credentials). */
  data?: Uint8Array
}

/**
 * Every entry of the project tree that .dockerignore keeps, in a stable order. `exclude` lists absolute paths left
 * out whatever the rules say: a tracking store inside the project changes with every run and would defeat the cache.
 */
export const listContext = (dir: string, exclude: string[] = []): ContextFile[] => {
  // Read like every project file: inside the project, a regular file, at most 1 MiB (a link to /dev/zero must not hang).
  const ignore = readProjectFile(dir, join(dir, ".dockerignore"), { display: ".dockerignore", what: "", maxBytes: 1024 * 1024 })
  const rules = parseDockerignore(ignore ? ignore.bytes.toString("utf8") : "")
  const skipped = new Set(exclude.map((path) => resolve(path)))
  const files: ContextFile[] = []
  const walk = (absDir: string, relDir: string) => {
    for (const name of readdirSync(absDir).sort()) {
      const abs = join(absDir, name)
      if (skipped.has(abs)) continue
      const path = relDir === "" ? name : `${relDir}/${name}`
      const stat = lstatSync(abs)
      const ignored = isIgnored(rules, path)
      const base = { path, abs, mode: stat.mode & 0o7777, mtime: Math.floor(stat.mtimeMs / 1000) }
      if (stat.isDirectory()) {
        if (!ignored) files.push({ ...base, type: "dir", size: 0 })
        // An exception (`!dir/keep`) can re-include something below an ignored directory, so look inside.
        if (!ignored || rules.hasExceptions) walk(abs, path)
        continue
      }
      if (ignored) continue
      const data = stat.isFile() ? contextBytes(path, abs) : null
      if (data) files.push({ ...base, type: "file", size: data.length, data })
      else if (stat.isFile()) files.push({ ...base, type: "file", size: stat.size })
      else if (stat.isSymbolicLink()) files.push({ ...base, type: "symlink", size: 0, link: readlinkSync(abs) })
      // Sockets, fifos and devices cannot be copied into an image: left out, as docker does.
    }
  }
  walk(resolve(dir), "")
  return files
}

const chunk = Buffer.alloc(1 << 20)

const hashFile = (hasher: Bun.CryptoHasher, path: string) => {
  const fd = openSync(path, "r")
  try {
    for (let read = readSync(fd, chunk); read > 0; read = readSync(fd, chunk)) hasher.update(chunk.subarray(0, read))
  } finally {
    closeSync(fd)
  }
}

/** sha256 over each entry's kind, path, mode, link target and content: what decides the built image, not mtimes. */
export const hashContext = (files: ContextFile[], salt = ""): string => {
  const hasher = new Bun.CryptoHasher("sha256")
  hasher.update(`${salt}\0`)
  for (const file of files) {
    hasher.update(`${file.type}\0${file.path}\0${file.mode.toString(8)}\0${file.link ?? ""}\0${file.size}\0`)
    if (file.data) hasher.update(file.data)
    else if (file.type === "file") hashFile(hasher, file.abs)
  }
  return hasher.digest("hex")
}

/** The context as a tar stream: `dockerfile` at the root and the project under `code/`. */
export const contextTar = (files: ContextFile[], dockerfile: { name: string; text: string }): ReadableStream<Uint8Array> => {
  const now = Math.floor(Date.now() / 1000)
  const entries: TarEntry[] = [
    { name: dockerfile.name, type: "file", mode: 0o644, mtime: now, data: new TextEncoder().encode(dockerfile.text) },
    { name: "code", type: "dir", mode: 0o755, mtime: now },
    ...files.map((file): TarEntry => ({
      name: `code/${file.path}`,
      type: file.type,
      mode: file.mode,
      mtime: file.mtime,
      size: file.size,
      ...(file.data ? { data: file.data } : { source: file.type === "file" ? file.abs : undefined }),
      link: file.link,
    })),
  ]
  return tarStream(entries)
}
