// The .mlpack file: written deterministically from a staged folder; read, verified and unpacked with every file's hash checked.
import { createHash } from "node:crypto"
import { createReadStream } from "node:fs"
import { chmod, lstat, mkdir, mkdtemp, open, readFile, rename, rm, symlink, writeFile } from "node:fs/promises"
import { basename, dirname, join } from "node:path"
import { ToolError } from "../errors.ts"
import { checkEntries, type ArchiveEntry } from "../source/archive-rules.ts"
import { writeDeterministicTarGz } from "../util/det-tar.ts"
import { walkTree } from "../util/tree-walk.ts"
import { version } from "../version.ts"
import { checkManifest, invalidPack, packFormatVersion, parseManifest, type PackContent, type PackManifest } from "./manifest.ts"
import { openPack, unsafePack, type PackReader, type TarEntry } from "./tar-read.ts"

export { packFormatVersion, type PackContent, type PackManifest } from "./manifest.ts"

/** The one folder of a pack, and its first entry. */
export const packRoot = "mlpack"
const manifestName = "manifest.json"
/** Written into an unpacked pack's folder last; its presence means the folder is complete. */
const marker = ".mlpack-unpacked"
const maxManifest = 64 * 1024 * 1024

// gzip level 3 on a 107 MB executable: 53.2 MB in 1.8 s, against 52.3 MB in 2.3 s at 6 and 63.7 MB in 0.9 s at 1.
const defaultLevel = 3

const writeError = (message: string, cause?: unknown) =>
  new ToolError("pack.write", message, { hint: "check that the staged folder is readable and that nothing changes it while the pack is written", exitCode: 1, cause })

const sha256Of = async (path: string): Promise<string> => {
  const hash = createHash("sha256")
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest("hex")
}

/**
 * Writes `stagingDir` (project/, wheels/, image/…) as a pack: manifest.json first, then the tree in byte order, all under
 * `mlpack/`. `files` is the sha256 of every regular file; a file that changes between hashing and packing fails the write.
 */
export const writePack = async (stagingDir: string, content: PackContent, outFile: string, options: { level?: number } = {}): Promise<{ sha256: string; bytes: number; manifest: PackManifest }> => {
  const files: Record<string, string> = {}
  try {
    for await (const entry of walkTree(stagingDir)) {
      if (!entry.relative.includes("/") && (entry.relative === manifestName || entry.relative === marker)) throw writeError(`${join(stagingDir, entry.relative)}: '${entry.relative}' is a name the pack keeps for itself`)
      if (entry.kind === "file") files[entry.relative] = await sha256Of(entry.path)
    }
  } catch (error) {
    throw error instanceof ToolError ? error : writeError(`cannot read the staged folder ${stagingDir} (${(error as Error).message})`, error)
  }
  const described: PackManifest = { format: packFormatVersion, created_by: `mlproject ${version}`, ...content, files }
  let manifest: PackManifest
  try {
    manifest = checkManifest(described, outFile)
  } catch (error) {
    // A manifest this writer would not read back is the caller's mistake, said in the caller's terms.
    throw error instanceof ToolError && error.code === "pack.invalid" ? writeError(error.message.replace(" is not an mlproject pack", " would not be a valid pack"), error) : error
  }
  const result = await writeDeterministicTarGz(stagingDir, outFile, {
    root: packRoot,
    level: options.level ?? defaultLevel,
    prepend: [{ relative: manifestName, data: Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`) }],
    onFile: (relative, sha256) => {
      if (manifest.files[relative] !== sha256) throw writeError(`${join(stagingDir, relative)} changed while the pack was written`)
    },
    error: writeError,
  })
  if (result.files !== Object.keys(files).length) throw writeError(`the staged folder ${stagingDir} changed while the pack was written`)
  return { sha256: result.sha256, bytes: result.bytes, manifest }
}

/** The path inside `mlpack/` an entry names ("" for the folder itself); anything else is refused. */
const insidePath = (entry: TarEntry, pack: string): string => {
  const name = entry.name.endsWith("/") ? entry.name.slice(0, -1) : entry.name
  if (name.startsWith("/") || /^[a-zA-Z]:/.test(name)) throw unsafePack(pack, `entry '${entry.name}' has an absolute path`)
  const parts = name.split("/")
  if (parts.includes("..")) throw unsafePack(pack, `entry '${entry.name}' climbs out with '..'`)
  if (name.includes("\0") || name.includes("\\") || parts.some((part) => part === "" || part === ".")) throw unsafePack(pack, `entry '${entry.name}' is not a plain relative path`)
  if (parts[0] !== packRoot) throw unsafePack(pack, `entry '${entry.name}' is outside the ${packRoot}/ folder`)
  return parts.slice(1).join("/")
}

/** Reads the first entry, which must be the manifest, and checks it. */
const readHead = async (reader: PackReader, pack: string): Promise<PackManifest> => {
  const first = await reader.next()
  if (first === null) throw invalidPack(pack, "its archive is empty")
  if (first.type !== "file" || first.name !== `${packRoot}/${manifestName}`) throw invalidPack(pack, `its first entry is '${first.name}', not ${packRoot}/${manifestName}`)
  if (first.size > maxManifest) throw invalidPack(pack, `its manifest.json has ${first.size} bytes`)
  const text = Buffer.concat(await Array.fromAsync(reader.body(first))).toString("utf8")
  return parseManifest(text, pack)
}

/** The manifest of a pack, read from its first entry only (the rest is not decompressed). */
export const readManifest = async (packFile: string): Promise<PackManifest> => {
  const reader = await openPack(packFile)
  try {
    return await readHead(reader, packFile)
  } finally {
    reader.close()
  }
}

/** Where the entries of a pack go while they are read: nowhere (verify) or a staging folder (unpack). */
type Sink = {
  dir(relative: string): Promise<void>
  symlink(relative: string, target: string): Promise<void>
  file(relative: string, mode: number): Promise<{ write(chunk: Buffer): Promise<void>; close(): Promise<void> }>
}

const nowhere: Sink = {
  dir: async () => undefined,
  symlink: async () => undefined,
  file: async () => ({ write: async () => undefined, close: async () => undefined }),
}

const corrupt = (pack: string, message: string) => new ToolError("pack.corrupt", `${pack}: ${message}`, { hint: "copy the pack again, or write it again with `mlproject pack`; nothing was unpacked" })

/** Reads a whole pack into `sink`, checking each entry's path and each file's hash against the manifest as it passes. */
const readPack = async (pack: string, sink: Sink, onEntry?: (path: string) => void): Promise<{ manifest: PackManifest; sha256: string }> => {
  const reader = await openPack(pack)
  try {
    const manifest = await readHead(reader, pack)
    await sink.file(manifestName, 0o644).then(async (out) => {
      await out.write(Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`))
      await out.close()
    })
    const listing: ArchiveEntry[] = []
    const seen = new Set<string>()
    const found = new Set<string>()
    const links = new Set<string>()
    for (let entry = await reader.next(); entry !== null; entry = await reader.next()) {
      const relative = insidePath(entry, pack)
      if (relative === "") continue
      if (relative === manifestName || relative === marker) throw unsafePack(pack, `entry '${entry.name}' would replace the pack's own ${relative}`)
      const parts = relative.split("/")
      for (let i = 1; i < parts.length; i++) {
        const parent = parts.slice(0, i).join("/")
        if (links.has(parent)) throw unsafePack(pack, `entry '${entry.name}' would be written through the symlink '${packRoot}/${parent}'`)
      }
      if ((entry.type !== "dir" && seen.has(relative)) || links.has(relative)) throw unsafePack(pack, `entry '${entry.name}' appears twice`)
      seen.add(relative)
      onEntry?.(relative)
      listing.push({ path: relative, type: entry.type, size: entry.size, ...(entry.target === undefined ? {} : { target: entry.target }) })
      if (entry.type === "dir") await sink.dir(relative)
      else if (entry.type === "symlink") {
        const target = entry.target ?? ""
        if (target.startsWith("/")) throw unsafePack(pack, `symlink '${entry.name}' points outside the pack ('${target}')`)
        if (manifest.files[relative] !== undefined) throw corrupt(pack, `'${relative}' is a symlink, but the manifest lists it as a file`)
        links.add(relative)
        await sink.symlink(relative, target)
      } else {
        const expected = manifest.files[relative]
        if (expected === undefined) throw corrupt(pack, `it contains '${relative}', which its manifest does not list`)
        const hash = createHash("sha256")
        const out = await sink.file(relative, entry.mode & 0o111 ? 0o755 : 0o644)
        try {
          for await (const chunk of reader.body(entry)) {
            hash.update(chunk)
            await out.write(chunk)
          }
        } finally {
          await out.close()
        }
        found.add(relative)
        const actual = hash.digest("hex")
        if (actual !== expected) throw corrupt(pack, `'${relative}' does not match its manifest: expected sha256 ${expected}, got ${actual}`)
      }
    }
    const missing = Object.keys(manifest.files).filter((path) => !found.has(path))
    if (missing.length > 0) throw corrupt(pack, `its manifest lists ${missing.length} file(s) the pack does not contain: ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", …" : ""}`)
    try {
      checkEntries(listing, pack)
    } catch (error) {
      throw error instanceof ToolError ? unsafePack(pack, error.message.replace(/^refusing to extract [^:]*: /, "")) : error
    }
    return { manifest, sha256: await reader.finish() }
  } finally {
    reader.close()
  }
}

/** Reads the whole pack and checks every file against the manifest; nothing is written. */
export const verifyPack = (packFile: string, options: { onEntry?: (path: string) => void } = {}): Promise<{ manifest: PackManifest; sha256: string }> =>
  readPack(packFile, nowhere, options.onEntry)

/** Writes into `root` only: parents are made by us and checked (in readPack) never to pass a symlink of the pack. */
const folderSink = (root: string): Sink => ({
  dir: async (relative) => void (await mkdir(join(root, relative), { recursive: true, mode: 0o755 })),
  symlink: async (relative, target) => {
    await mkdir(dirname(join(root, relative)), { recursive: true, mode: 0o755 })
    await symlink(target, join(root, relative))
  },
  file: async (relative, mode) => {
    const path = join(root, relative)
    await mkdir(dirname(path), { recursive: true, mode: 0o755 })
    // "wx": never through something already there (a symlink included).
    const handle = await open(path, "wx", mode)
    return {
      write: async (chunk) => void (await handle.write(chunk)),
      close: async () => {
        await handle.close()
        await chmod(path, mode)
      },
    }
  },
})

const unpacked = async (targetDir: string): Promise<{ manifest: PackManifest; sha256: string } | null> => {
  const done = await readFile(join(targetDir, marker), "utf8").catch(() => null)
  if (done === null) return null
  const manifest = parseManifest(await readFile(join(targetDir, manifestName), "utf8"), targetDir)
  return { manifest, sha256: (JSON.parse(done) as { sha256: string }).sha256 }
}

/**
 * Unpacks into `targetDir` (manifest.json, project/, wheels/, image/): extracted and checked in a staging folder beside it,
 * renamed into place only when every file matched. A folder already unpacked is returned as it is.
 */
export const unpackPack = async (packFile: string, targetDir: string): Promise<{ manifest: PackManifest; sha256: string }> => {
  const existing = await unpacked(targetDir)
  if (existing) return existing
  if (await lstat(targetDir).then(() => true, () => false)) {
    throw new ToolError("pack.target", `${targetDir} exists but holds no unpacked pack`, { hint: "remove it, or unpack into another folder" })
  }
  await mkdir(dirname(targetDir), { recursive: true })
  const staging = await mkdtemp(join(dirname(targetDir), `.${basename(targetDir)}.partial-`))
  try {
    const result = await readPack(packFile, folderSink(staging))
    await writeFile(join(staging, marker), `${JSON.stringify({ sha256: result.sha256 })}\n`)
    try {
      await rename(staging, targetDir)
    } catch (error) {
      // Another process unpacked the same pack first: its folder is as good as ours.
      const other = await unpacked(targetDir)
      if (other) {
        await rm(staging, { recursive: true, force: true })
        return other
      }
      throw error
    }
    return result
  } catch (error) {
    await rm(staging, { recursive: true, force: true })
    if (error instanceof ToolError) throw error
    throw new ToolError("pack.write", `cannot unpack ${packFile} into ${targetDir} (${(error as Error).message})`, { hint: "check the free space and permissions of the target's folder", exitCode: 1, cause: error })
  }
}
