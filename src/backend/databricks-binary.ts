// The Linux builds of this binary that can run on a Databricks driver: the running one and the release matrix beside it.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { mlprojectHome } from "../util/paths.ts"
import { sha256FileHex, sha256Hex } from "../util/random.ts"
import { selfBinary } from "../run/self.ts"

type Env = Record<string, string | undefined>

export type LinuxBinary = { arch: "x64" | "arm64"; path: string; sha256: string; bytes: number }

const arches = ["x64", "arm64"] as const

/** Where a binary of each arch may be: this binary itself on Linux, then `linux-<arch>/mlproject` beside it or beside its folder (dist/). */
const candidates = (self: string): Array<{ arch: (typeof arches)[number]; path: string }> => {
  const found: Array<{ arch: (typeof arches)[number]; path: string }> = []
  if (process.platform === "linux" && (process.arch === "x64" || process.arch === "arm64")) found.push({ arch: process.arch, path: self })
  const dirs = [dirname(self), dirname(dirname(self))]
  for (const arch of arches) {
    if (found.some((entry) => entry.arch === arch)) continue
    const path = dirs.map((dir) => join(dir, `linux-${arch}`, "mlproject")).find((file) => existsSync(file))
    if (path) found.push({ arch, path })
  }
  return found
}

/** A binary's sha256, remembered by path, size and mtime: hashing 100 MB on every run would cost more than the submit. */
const digestOf = async (path: string, env: Env): Promise<{ sha256: string; bytes: number }> => {
  const stat = statSync(path)
  const stamp = `${path}\n${stat.size}\n${stat.mtimeMs}\n`
  const memo = join(mlprojectHome(env), "databricks", `binary-${sha256Hex(path).slice(0, 16)}`)
  try {
    const text = readFileSync(memo, "utf8")
    const sha256 = text.slice(text.lastIndexOf("=") + 1)
    if (text.slice(0, text.lastIndexOf("=")) === stamp && /^[0-9a-f]{64}$/.test(sha256)) return { sha256, bytes: stat.size }
  } catch {
    // Not hashed yet.
  }
  const sha256 = await sha256FileHex(path)
  try {
    mkdirSync(dirname(memo), { recursive: true })
    writeFileSync(memo, `${stamp}=${sha256}`)
  } catch {
    // A read-only home hashes again next time.
  }
  return { sha256, bytes: stat.size }
}

/** Every Linux build at hand, hashed; none when this runs from sources (`bun src/bin.ts`) or on a Mac without the matrix. */
export const linuxBinaries = async (env: Env): Promise<LinuxBinary[]> => {
  const self = selfBinary()
  if (!self) return []
  return Promise.all(candidates(self).map(async (entry) => ({ ...entry, ...(await digestOf(entry.path, env)) })))
}
