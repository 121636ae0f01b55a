// A docker project's image in a pack: saved from the daemon (pulled first if needed) and loaded into a daemon that lacks it.
import { createWriteStream } from "node:fs"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { ToolError } from "../errors.ts"
import { ensureImage, inspectImage, type ImageContext } from "../env/docker-image.ts"
import { errorMessage, jsonLines } from "../util/docker-api.ts"

/** `docker save IMAGE > file` through the Engine API, streamed; the image's id. */
export const saveImage = async (image: string, file: string, context: ImageContext): Promise<{ id: string }> => {
  const present = await ensureImage(image, context)
  const response = await context.docker.request("GET", `/images/${encodeURIComponent(image)}/get`, { signal: context.signal, timeoutMs: null })
  if (!response.ok || !response.body) throw new ToolError("docker.image", `saving image ${image}: ${await errorMessage(response)}`, { exitCode: 1 })
  await pipeline(Readable.fromWeb(response.body as import("node:stream/web").ReadableStream), createWriteStream(file))
  return { id: present.id }
}

/** `docker load < file` unless the daemon has the image already (by id); true when it was loaded. */
export const loadImageIfMissing = async (image: { name: string; id: string }, file: string, context: ImageContext): Promise<boolean> => {
  const present = await inspectImage(context.docker, image.name, context.signal)
  if (present?.Id === image.id) return false
  const response = await context.docker.request("POST", "/images/load", {
    query: { quiet: "1" },
    body: Bun.file(file),
    headers: { "content-type": "application/x-tar" },
    signal: context.signal,
    timeoutMs: null,
  })
  if (!response.ok) throw new ToolError("docker.image", `loading the pack's image ${image.name}: ${await errorMessage(response)}`, { exitCode: 1 })
  for await (const line of jsonLines(response.body)) {
    if (line.error) throw new ToolError("docker.image", `loading the pack's image ${image.name}: ${String(line.error)}`, { exitCode: 1 })
  }
  const loaded = await inspectImage(context.docker, image.name, context.signal)
  if (loaded?.Id !== image.id) {
    throw new ToolError("pack.corrupt", `the pack's image archive did not load ${image.name} as ${image.id} (the daemon has ${loaded?.Id ?? "nothing"} under that name)`)
  }
  return true
}
