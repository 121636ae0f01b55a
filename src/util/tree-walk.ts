// The entries of a folder in a fixed order with their lstat: what a deterministic archive packs, and what a caller that
// remembers a tree by its stats compares. Kept apart from the packer: checking a tree must not load zlib and streams.
import { lstat, readdir, readlink } from "node:fs/promises"
import { join } from "node:path"

/**
 * One entry of a folder: `relative` uses '/' separators, with no root folder and no trailing slash. `stat` is what
 * lstat said of it (size, mtime, ctime, device:inode, mode) and `changedMs` its last change, for a caller that
 * remembers a tree by its stats.
 */
export type TreeEntry = { relative: string; kind: "dir" | "file" | "symlink"; path: string; size: number; mode: number; target?: string; stat: string; changedMs: number }

/** Leaves an entry (and, for a folder, all below it) out. */
export type Exclude = (relativePath: string, isDir: boolean) => boolean

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b))

/** Every entry below `dir`, depth first, each folder's names in byte order, so the same tree always lists the same way. */
export async function* walkTree(dir: string, exclude?: Exclude, prefix = ""): AsyncGenerator<TreeEntry> {
  for (const name of (await readdir(dir)).sort(byteOrder)) {
    const path = join(dir, name)
    const relative = prefix === "" ? name : `${prefix}/${name}`
    const info = await lstat(path)
    if (exclude?.(relative, info.isDirectory())) continue
    const known = { stat: `${info.size} ${info.mtimeMs} ${info.ctimeMs} ${info.dev}:${info.ino} ${info.mode}`, changedMs: Math.max(info.mtimeMs, info.ctimeMs) }
    if (info.isSymbolicLink()) yield { relative, kind: "symlink", path, size: 0, mode: 0o777, target: await readlink(path), ...known }
    else if (info.isDirectory()) {
      yield { relative, kind: "dir", path, size: 0, mode: 0o755, ...known }
      yield* walkTree(path, exclude, relative)
    } else if (info.isFile()) yield { relative, kind: "file", path, size: info.size, mode: info.mode & 0o111 ? 0o755 : 0o644, ...known }
    // Sockets, fifos and devices are not content anyone packs.
  }
}
