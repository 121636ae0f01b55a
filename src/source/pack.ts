// The pack fetcher: a local .mlpack checked (format, platform, every hash), unpacked once per pack digest, run offline.
import { join } from "node:path"
import { ToolError } from "../errors.ts"
import { statIfPresent } from "../util/fs-atomic.ts"
import { sha256FileHex } from "../util/random.ts"
import { currentPlatform } from "../pack/platform.ts"
import { ensureEntry, projectsDir } from "./cache.ts"
import { reporter } from "./progress.ts"
import { sourceFrom, type Fetcher } from "./working.ts"

export const fetchPack: Fetcher = async (target, request) => {
  const env = request.env ?? process.env
  const file = target.path as string
  if (!statIfPresent(file)?.isFile()) throw new ToolError("source.not_found", `pack '${target.name}' does not exist (resolved to ${file})`, { hint: "check the path" })
  const { readManifest, unpackPack } = await import("../pack/format.ts")
  // The manifest comes first in the file: a pack for another platform is refused before anything is hashed or unpacked.
  const manifest = await readManifest(file)
  const here = currentPlatform()
  if (manifest.env.platform !== here) {
    throw new ToolError("pack.platform", `${target.name} is a pack for ${manifest.env.platform}; this machine is ${here ?? `${process.platform}-${process.arch}`}`, {
      hint: `pack it again for this machine: mlproject pack ${manifest.source.uri} --platform ${here ?? "…"} -o …`,
    })
  }
  const report = reporter(request.emit, target.name, "archive")
  report.progress("hashing")
  const sha256 = await sha256FileHex(file)
  const { entry, cached } = await ensureEntry(
    join(projectsDir(env), "pack", sha256),
    async (tmp) => {
      report.progress("verifying and unpacking")
      await unpackPack(file, join(tmp, "tree"))
      return { kind: "pack" as const, id: sha256, root: "project", source: target.name, created: new Date().toISOString() }
    },
    { signal: request.signal, onWait: () => report.progress("waiting for another run unpacking the same pack") },
  )
  report.done(null, cached)
  const subdir = [manifest.source.subdirectory, target.subdir].filter(Boolean).join("/")
  const commit = manifest.source.commit
  const git = commit ? { commit, repo_url: /^[a-z+]+:\/\/|^[^/]+@[^/]+:/i.test(manifest.source.uri) ? manifest.source.uri.split("#")[0] as string : null } : undefined
  const source = await sourceFrom(entry, target, subdir, "pack", git, env, manifest.source.uri, "")
  return { ...source, pack: { manifest, sha256, dir: join(entry.dir, "tree") } }
}
