// Images built with --build-image as a cache kind, through the Docker Engine API; their last use is recorded here.
import { rmSync, statSync, utimesSync } from "node:fs"
import { join } from "node:path"
import { connectDocker, errorMessage, type DockerClient } from "../util/docker-api.ts"
import { writeFileAtomic } from "../util/fs-atomic.ts"
import { cacheDir } from "../util/paths.ts"
import type { CacheEntry, CacheKind, RemoveVerdict } from "./types.ts"

type Env = Record<string, string | undefined>

/** The label env/docker-image.ts puts on every image it builds: what makes an image ours. */
export const contextLabel = "org.mlflow.project.context"
/** Our tags are `<repository>:<16 hex of the context hash>`. */
const ourTag = /:[0-9a-f]{16}$/

const usesDir = (env: Env) => cacheDir("images", env)
const useFile = (env: Env, id: string) => join(usesDir(env), `${id.replace(/^sha256:/, "")}.json`)

/** Called each time a run uses a built image (built or found): the record's mtime is the image's last use. */
export const recordImageUse = (env: Env, id: string, tag: string): void => {
  const file = useFile(env, id)
  try {
    const now = new Date()
    utimesSync(file, now, now)
  } catch {
    try {
      writeFileAtomic(file, `${JSON.stringify({ id, tag })}\n`, usesDir(env))
    } catch {
      // A read-only or full home only costs the image its exact last-use time.
    }
  }
}

type ImageSummary = { Id: string; RepoTags?: string[] | null; Size?: number; Created?: number; Labels?: Record<string, string> | null }

const listImages = async (docker: DockerClient): Promise<ImageSummary[]> => {
  const response = await docker.request("GET", "/images/json", { query: { filters: JSON.stringify({ label: [contextLabel] }) } })
  if (!response.ok) throw new Error(await errorMessage(response))
  return (await response.json()) as ImageSummary[]
}

const runningContainers = async (docker: DockerClient, id: string): Promise<number> => {
  const response = await docker.request("GET", "/containers/json", { query: { filters: JSON.stringify({ ancestor: [id] }) } })
  if (!response.ok) {
    await response.body?.cancel()
    // Unknown means in use: never remove what cannot be checked.
    return 1
  }
  return ((await response.json()) as unknown[]).length
}

/** Untags each of our tags (the last one removes the image); never forced, so the daemon refuses an image in use. */
const removeImage = async (docker: DockerClient, env: Env, entry: CacheEntry, tags: string[]): Promise<RemoveVerdict> => {
  for (const tag of tags.length > 0 ? tags : [entry.path]) {
    const response = await docker.request("DELETE", `/images/${encodeURIComponent(tag)}`)
    await response.body?.cancel()
    if (response.status === 409) return "busy"
    if (!response.ok && response.status !== 404) return "kept"
  }
  rmSync(useFile(env, entry.path), { force: true })
  return "removed"
}

export const imagesKind = async (env: Env): Promise<CacheKind> => {
  const root = `docker images labelled ${contextLabel}`
  let docker: DockerClient
  try {
    docker = await connectDocker(env)
  } catch (error) {
    const reason = (error as Error).message
    return { name: "images", root, unavailable: `no Docker daemon answered (${reason})`, list: async () => [], remove: async () => "kept" }
  }
  const tagsOf = new Map<string, string[]>()
  return {
    name: "images",
    root,
    async list() {
      const entries: CacheEntry[] = []
      for (const image of await listImages(docker)) {
        const tags = (image.RepoTags ?? []).filter((tag) => ourTag.test(tag))
        // Tagged by someone else too: that tag is theirs, and the image stays with it.
        if ((image.RepoTags ?? []).some((tag) => !ourTag.test(tag) && tag !== "<none>:<none>")) continue
        tagsOf.set(image.Id, tags)
        const recorded = statSync(useFile(env, image.Id), { throwIfNoEntry: false })?.mtimeMs
        entries.push({
          kind: "images",
          id: tags[0] ?? image.Id.slice(0, 19),
          path: image.Id,
          bytes: image.Size ?? 0,
          last_used: new Date(recorded ?? (image.Created ?? 0) * 1000).toISOString(),
          in_use: (await runningContainers(docker, image.Id)) > 0,
          leftover: false,
        })
      }
      return entries
    },
    remove: (entry) => removeImage(docker, env, entry, tagsOf.get(entry.path) ?? []),
  }
}
