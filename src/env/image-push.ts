// Pushing a local image to its registry (skipped when the registry already has the tag) and naming it by the registry's digest.
import { ToolError } from "../errors.ts"
import { errorMessage, jsonLines } from "../util/docker-api.ts"
import { parseImageRef, registryAuthHeaders, registryCredentials, type RegistryCredentials } from "../util/docker-auth.ts"
import { formatSeconds, limitVariables } from "../util/http-limits.ts"
import { deniedHint, manifestDigest, registryEndpoint, registryScheme, type RegistryTarget } from "../util/registry-api.ts"
import { layerProgress, type ImageContext, type LayerStatuses } from "./docker-image.ts"

export type PushedImage = {
  /** `<repository>@sha256:…`: what another machine (a Kubernetes pod) runs, immune to the tag moving. */
  uri: string
  /** The registry's manifest digest. */
  digest: string
  /** False when the registry already had the tag and nothing was sent. */
  pushed: boolean
  ms: number
}

const pushStatuses: LayerStatuses = { moving: "Pushing", finished: ["Pushed", "Layer already exists"] }

const deniedWords = /unauthorized|authentication required|no basic auth credentials|forbidden|denied/i

/** A failure the daemon reported, in MLflow's words (`Error while pushing to docker registry: …`). */
const pushError = (registry: string, message: string, credentials: RegistryCredentials | null): ToolError => {
  if (deniedWords.test(message)) {
    return new ToolError("docker.push.denied", `Error while pushing to docker registry: ${message}`, { hint: deniedHint(registry, credentials), exitCode: 1 })
  }
  return new ToolError("docker.push", `Error while pushing to docker registry: ${message}`, {
    hint: `the Docker daemon pushes it itself: check that it can reach ${registry} (its network, proxy and insecure-registries settings)`,
    exitCode: 1,
  })
}

type LocalImage = { Id: string; RepoDigests?: string[] | null }

/** What the daemon knows of the local image; a missing one cannot be pushed. */
const localImage = async (image: string, context: ImageContext): Promise<LocalImage> => {
  const response = await context.docker.request("GET", `/images/${encodeURIComponent(image)}/json`, { signal: context.signal })
  if (response.status === 404) {
    await response.body?.cancel()
    throw new ToolError("docker.image.not_found", `cannot push ${image}: there is no such image on the Docker daemon`, { hint: "build it first (--build-image)", exitCode: 1 })
  }
  if (!response.ok) throw new ToolError("docker.image", `inspecting image ${image}: ${await errorMessage(response)}`, { exitCode: 1 })
  return (await response.json()) as LocalImage
}

/** `POST /images/<name>/push` through the daemon, streaming progress; the digest from the final aux message, if any. */
const daemonPush = async (image: string, name: string, tag: string, target: RegistryTarget, context: ImageContext): Promise<string | null> => {
  const idleMs = context.docker.limits.idleTimeoutMs
  try {
    const response = await context.docker.request("POST", `/images/${encodeURIComponent(name)}/push`, {
      query: { tag },
      headers: registryAuthHeaders(target.credentials),
      signal: context.signal,
      timeoutMs: idleMs,
      idleMs,
    })
    if (!response.ok) throw pushError(target.registry, await errorMessage(response), target.credentials)
    const progress = layerProgress(`push ${image}`, context.emit, pushStatuses)
    let digest: string | null = null
    for await (const message of jsonLines(response.body)) {
      if (message.error) throw pushError(target.registry, String(message.error), target.credentials)
      const aux = message.aux as { Digest?: string } | undefined
      if (typeof aux?.Digest === "string") digest = aux.Digest
      progress(message)
    }
    return digest
  } catch (error) {
    if (context.signal?.aborted || !(error instanceof ToolError) || error.code !== "http.timeout") throw error
    throw new ToolError("http.timeout", `pushing ${image} stalled: the Docker daemon reported no progress for ${formatSeconds(idleMs)} (waiting on ${target.registry})`, {
      hint: `check that the daemon can reach ${target.registry}; raise ${limitVariables.idleTimeoutMs} (seconds) if the registry is just slow`,
      exitCode: 1,
      cause: error,
    })
  }
}

/**
 * Pushes `image` (a local `repository:tag`) with the docker config's credentials for its registry, unless the
 * registry already has that tag, and returns the registry's digest of it.
 */
export const pushImage = async (image: string, context: ImageContext): Promise<PushedImage> => {
  const ref = parseImageRef(image)
  if (ref.reference.includes(":")) throw new ToolError("usage", `cannot push ${image}: a push needs a tag, not a digest`)
  const started = performance.now()
  context.emit({ type: "image.push.started", image, registry: ref.registry })
  try {
    const local = await localImage(image, context)
    const credentials = await registryCredentials(ref.registry, context.env, context.signal)
    const endpoint = registryEndpoint(ref)
    const scheme = await registryScheme(context.docker, endpoint.host, context.signal)
    const target: RegistryTarget = { registry: ref.registry, base: `${scheme}://${endpoint.host}`, path: endpoint.path, credentials, signal: context.signal }
    const remote = await manifestDigest(target, ref.reference)
    // Our tags are content hashes (buildProjectImage): the same tag in the registry is the same content, so it is
    // not sent again. Only when the daemon remembers other digests for this repository, and not the registry's, has
    // the tag been moved to other content there (a mutable tag pushed by hand): then it is pushed again.
    const known = (local.RepoDigests ?? []).filter((entry) => entry.startsWith(`${ref.name}@`)).map((entry) => entry.slice(ref.name.length + 1))
    const pushed = !(remote !== null && (known.length === 0 || known.includes(remote)))
    const digest = pushed ? ((await daemonPush(image, ref.name, ref.reference, target, context)) ?? (await manifestDigest(target, ref.reference))) : remote
    if (!digest) throw new ToolError("docker.push", `the daemon reported ${image} pushed, but ${ref.registry} does not have it`, { exitCode: 1 })
    const ms = Math.round(performance.now() - started)
    context.emit({ type: "image.push.done", image, digest, pushed, ms })
    return { uri: `${ref.name}@${digest}`, digest, pushed, ms }
  } catch (error) {
    // An interrupt aborts the registry call or the push request (the daemon then cancels the push): exit 130.
    if (!context.signal?.aborted) throw error
    throw new ToolError("run.interrupted", `${String(context.signal.reason ?? "SIGINT")} while pushing ${image}: stopped`, { exitCode: 130, cause: error })
  }
}
