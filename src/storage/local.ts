// file:// URIs and plain paths as storage: stat, recursive listing, ranged reads, and upload as a copy.
import { copyFileSync, mkdirSync, readdirSync, statSync } from "node:fs"
import { dirname, join, resolve, sep } from "node:path"
import { fileURLToPath } from "node:url"
import { ToolError } from "../errors.ts"
import { schemeOf } from "./uri.ts"
import type { Adapter, ObjectInfo } from "./types.ts"

const toPath = (uri: string): string => {
  if (schemeOf(uri) !== "file") return resolve(uri)
  try {
    return fileURLToPath(uri.replace(/^file:\/\/localhost\//i, "file:///"))
  } catch (error) {
    throw new ToolError("storage.uri", `'${uri}' is not a local file URI: ${(error as Error).message}`, {
      hint: "write file:///absolute/path (a file URI with a host names another machine)",
    })
  }
}

const infoOf = (uri: string, path: string): ObjectInfo | null => {
  try {
    const stats = statSync(path)
    // Local files are copied, never cached: a cache copy of a local file only costs disk.
    return stats.isFile() ? { uri, size: stats.size, version: null, ranges: true, pin: path } : null
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "ENOTDIR") return null
    throw error
  }
}

export const local: Adapter = {
  async stat(uri) {
    return infoOf(uri, toPath(uri))
  },
  async list(uri) {
    const root = toPath(uri)
    let names: string[]
    try {
      names = readdirSync(root, { recursive: true, encoding: "utf8" })
    } catch {
      return []
    }
    return names.sort().flatMap((name) => {
      const path = name.split(sep).join("/")
      const info = infoOf(`${uri.replace(/\/+$/, "")}/${path}`, join(root, name))
      return info ? [{ path, info }] : []
    })
  },
  async read(info, range) {
    const file = Bun.file(info.pin ?? toPath(info.uri))
    return file.slice(range.start, range.end ?? undefined).stream()
  },
  async upload(localPath, uri) {
    const target = toPath(uri)
    mkdirSync(dirname(target), { recursive: true })
    copyFileSync(localPath, target)
  },
}
