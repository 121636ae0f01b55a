// The image a docker run uses: the base image found or pulled, and with --build-image the project image, built once per content hash.
import { ToolError } from "../errors.ts"
import type { Event } from "../events/event.ts"
import { errorMessage, jsonLines, type DockerClient } from "../util/docker-api.ts"
import { formatSeconds, limitVariables } from "../util/http-limits.ts"
import { parseImageRef, registryAuthHeaders, registryCredentials, type RegistryCredentials } from "../util/docker-auth.ts"
import { contextTar, hashContext, listContext } from "./docker-context.ts"
import type { DockerPlan } from "./docker.ts"
import { contextLabel, recordImageUse } from "../cache/images.ts"

/** Events of image preparation; the lead adds them to the Event union (docs/events.md). */
export type DockerEvent =
  | { type: "image.pull.started"; image: string }
  | { type: "image.pull.done"; image: string; id: string; ms: number }
  | { type: "image.build.started"; image: string; base: string; files: number; bytes: number }
  | { type: "image.build.output"; line: string }
  | { type: "image.build.done"; image: string; id: string; cached: boolean; ms: number }
  | { type: "image.push.started"; image: string; registry: string }
  | { type: "image.push.done"; image: string; digest: string; pushed: boolean; ms: number }

export type DockerEmit = (event: Event | DockerEvent) => void

export type DockerImage = {
  /** The image the container runs: the base image as named, or the built tag. Tag `mlflow.docker.image.uri`. */
  uri: string
  /** `sha256:…`. Tag `mlflow.docker.image.id`. */
  id: string
  /** True when nothing was pulled or built. */
  cached: boolean
  built: boolean
  /** What the image runs on (`linux`/`amd64`), when the daemon says. */
  platform: { os: string; architecture: string } | null
  /** The PATH the image's config sets, when it sets one. */
  path: string | null
}

type ImageInspect = { Id: string; Os?: string; Architecture?: string; Config?: { Env?: string[] | null } | null }

const described = (uri: string, inspected: ImageInspect, flags: { cached: boolean; built: boolean }): DockerImage => ({
  uri,
  id: inspected.Id,
  ...flags,
  platform: inspected.Os && inspected.Architecture ? { os: inspected.Os, architecture: inspected.Architecture } : null,
  path: inspected.Config?.Env?.find((entry) => entry.startsWith("PATH="))?.slice("PATH=".length) ?? null,
})

/**
 * An inspect sent ahead (while the run is being recorded), answered once: a plan shared by a sweep's trials asks the
 * daemon again for every later trial. Its answer is undefined when it failed, so the image is asked for in its place.
 */
export type AskedAhead = { take(image: string): Promise<ImageInspect | null | undefined> | undefined }

export type ImageContext = {
  docker: DockerClient
  env: Record<string, string | undefined>
  emit: DockerEmit
  signal?: AbortSignal
  /** The base image's inspect, already under way. */
  ahead?: AskedAhead
}

/** Bumped whenever the generated Dockerfile changes, so images built by an older recipe are not reused. */
const recipe = "mlproject-docker-build-1"
const dockerfileName = "Dockerfile.mlproject"

export const inspectImage = async (docker: DockerClient, image: string, signal?: AbortSignal): Promise<ImageInspect | null> => {
  const response = await docker.request("GET", `/images/${encodeURIComponent(image)}/json`, { signal })
  if (response.status === 404) {
    await response.body?.cancel()
    return null
  }
  if (!response.ok) throw new ToolError("docker.image", `inspecting image ${image}: ${await errorMessage(response)}`, { exitCode: 1 })
  return (await response.json()) as ImageInspect
}

/** Asks for an image now; its answer (or failure) is taken where the image is needed, through `ImageContext.ahead`. */
export const inspectAhead = (docker: DockerClient, image: string, signal?: AbortSignal): AskedAhead => {
  let answer: Promise<ImageInspect | null | undefined> | undefined = inspectImage(docker, image, signal).catch(() => undefined)
  return {
    take: (name) => {
      if (name !== image) return undefined
      const taken = answer
      answer = undefined
      return taken
    },
  }
}

const pullError = (image: string, message: string, registry: string, credentials: RegistryCredentials | null): ToolError => {
  const refused = /unauthorized|authentication required|no basic auth credentials|forbidden|denied/i.test(message)
  const missing = /not found|manifest unknown|does not exist|no such image/i.test(message)
  if (missing && !/unauthorized|authentication required/i.test(message)) {
    return new ToolError("docker.image.not_found", `image ${image} was not found locally nor in ${registry}: ${message}`, {
      hint: `check docker_env.image in MLproject, or build the image first (docker build -t ${image} .)${refused ? "; if it is private, add credentials for it (docker login)" : ""}`,
    })
  }
  if (refused) {
    return new ToolError("docker.pull.denied", `${registry} refused to let us pull ${image}: ${message}`, {
      hint: credentials
        ? `the credentials for ${registry} from your docker config were refused: log in again (docker login ${registry})`
        : `no credentials for ${registry} in ~/.docker/config.json: run 'docker login ${registry}' or add an "auths" entry`,
      exitCode: 1,
    })
  }
  return new ToolError("docker.pull", `pulling ${image} failed: ${message}`, {
    hint: `the Docker daemon pulls it itself: check that it can reach ${registry} (its network and proxy settings), or load the image locally (docker load, docker build)`,
    exitCode: 1,
  })
}

/** What a layer's statuses mean in a progress stream: the one that carries its bytes, and those that end it. */
export type LayerStatuses = { moving: string; finished: string[] }

const pullStatuses: LayerStatuses = { moving: "Downloading", finished: ["Download complete", "Already exists", "Pull complete"] }

/** Sums the bytes of every layer so one progress figure covers the whole pull (or push), at most one event per 200 ms. */
export const layerProgress = (task: string, emit: DockerEmit, statuses: LayerStatuses) => {
  const layers = new Map<string, { done: number; total: number | null }>()
  const started = performance.now()
  let lastEmit = 0
  let lastDone: number | null = null
  let lastTotal: number | null = null
  return (message: Record<string, unknown>) => {
    const id = typeof message.id === "string" ? message.id : null
    if (!id) return
    const detail = (message.progressDetail ?? {}) as { current?: number; total?: number }
    const layer = layers.get(id) ?? { done: 0, total: null }
    if (message.status === statuses.moving && detail.current !== undefined) {
      layer.done = detail.current
      layer.total = detail.total ?? null
    } else if (typeof message.status === "string" && statuses.finished.includes(message.status)) {
      layer.done = layer.total ?? layer.done
    }
    layers.set(id, layer)
    const now = performance.now()
    if (now - lastEmit < 200) return
    const done = [...layers.values()].reduce((sum, l) => sum + l.done, 0)
    const total = [...layers.values()].every((l) => l.total !== null) ? [...layers.values()].reduce((sum, l) => sum + (l.total ?? 0), 0) : null
    // Extracting and verifying layers move no bytes: the same figures again would say nothing new.
    if (done === lastDone && total === lastTotal) return
    lastEmit = now
    lastDone = done
    lastTotal = total
    const rate = done / Math.max(0.001, (now - started) / 1000)
    emit({ type: "progress", task, done, total, rate, eta_s: total !== null && rate > 0 ? (total - done) / rate : null })
  }
}

/** The daemon said nothing for the idle timeout: it waits on a registry that is stuck or unreachable. */
const pullStalled = (image: string, registry: string, idleMs: number, cause: unknown): ToolError =>
  new ToolError("http.timeout", `pulling ${image} stalled: the Docker daemon reported no progress for ${formatSeconds(idleMs)} (waiting on ${registry})`, {
    hint: `check that the daemon can reach ${registry}; raise ${limitVariables.idleTimeoutMs} (seconds) if the registry is just slow`,
    exitCode: 1,
    cause,
  })

/**
 * Pulls an image (credentials from the docker config), streaming progress; returns what the daemon says of it. The
 * daemon holds its answer until the registry has named the image, and sends progress only while bytes move, so
 * silence for the idle timeout, before or during the stream, ends the pull (the daemon cancels it when we hang up).
 */
export const pullImage = async (image: string, context: ImageContext): Promise<ImageInspect> => {
  const ref = parseImageRef(image)
  const credentials = await registryCredentials(ref.registry, context.env, context.signal)
  const started = performance.now()
  const idleMs = context.docker.limits.idleTimeoutMs
  context.emit({ type: "image.pull.started", image })
  try {
    const response = await context.docker.request("POST", "/images/create", {
      query: { fromImage: ref.name, tag: ref.reference },
      headers: registryAuthHeaders(credentials),
      signal: context.signal,
      timeoutMs: idleMs,
      idleMs,
    })
    if (!response.ok) throw pullError(image, await errorMessage(response), ref.registry, credentials)
    const progress = layerProgress(`pull ${image}`, context.emit, pullStatuses)
    for await (const message of jsonLines(response.body)) {
      if (message.error) throw pullError(image, String(message.error), ref.registry, credentials)
      progress(message)
    }
  } catch (error) {
    if (!context.signal?.aborted && error instanceof ToolError && error.code === "http.timeout") throw pullStalled(image, ref.registry, idleMs, error)
    throw error
  }
  const pulled = await inspectImage(context.docker, image, context.signal)
  if (!pulled) throw new ToolError("docker.pull", `the daemon reported ${image} pulled, but it is not there`, { exitCode: 1 })
  context.emit({ type: "image.pull.done", image, id: pulled.Id, ms: Math.round(performance.now() - started) })
  return pulled
}

/** The image as named: used when present, pulled otherwise. */
export const ensureImage = async (image: string, context: ImageContext): Promise<DockerImage> => {
  const early = await context.ahead?.take(image)
  const present = early === undefined ? await inspectImage(context.docker, image, context.signal) : early
  if (present) return described(image, present, { cached: true, built: false })
  return described(image, await pullImage(image, context), { cached: false, built: false })
}

/** A valid repository name from the project name (MLflow tags by the name; `docker-project` when there is none). */
export const repositoryName = (projectName: string | null): string =>
  (projectName ?? "")
    .toLowerCase()
    .replace(/[^a-z0-9._/-]+/g, "-")
    .replace(/[._/-]{2,}/g, "-")
    .replace(/^[._/-]+|[._/-]+$/g, "") || "docker-project"

export type BuildInput = {
  baseImage: string
  projectDir: string
  projectName: string | null
  exclude?: string[]
  /** Tag in this repository instead (`127.0.0.1:5000/team/proj`), for an image pushed and run elsewhere. */
  repository?: string
}

/**
 * The project image: `FROM <base>`, the project copied to /mlflow/projects/code, the working directory there. Its tag is
 * a hash of the base image id and the context, so an unchanged project finds its image and skips the build (and a
 * registry that has the tag has this content).
 */
export const buildProjectImage = async (input: BuildInput, context: ImageContext): Promise<DockerImage> => {
  const base = await ensureImage(input.baseImage, context)
  const started = performance.now()
  const files = listContext(input.projectDir, input.exclude)
  const hash = hashContext(files, `${recipe}\0${base.id}`)
  const tag = `${input.repository ?? repositoryName(input.projectName)}:${hash.slice(0, 16)}`
  const existing = await inspectImage(context.docker, tag, context.signal)
  if (existing) {
    context.emit({ type: "image.build.done", image: tag, id: existing.Id, cached: true, ms: Math.round(performance.now() - started) })
    recordImageUse(context.env, existing.Id, tag)
    return described(tag, existing, { cached: true, built: true })
  }
  const bytes = files.reduce((sum, file) => sum + file.size, 0)
  context.emit({ type: "image.build.started", image: tag, base: input.baseImage, files: files.length, bytes })
  const dockerfile = `FROM ${input.baseImage}\nCOPY code/ /mlflow/projects/code/\nWORKDIR /mlflow/projects/code/\n`
  let response: Response
  try {
    response = await context.docker.request("POST", "/build", {
      query: { t: tag, dockerfile: dockerfileName, rm: 1, forcerm: 1, labels: JSON.stringify({ [contextLabel]: hash }) },
      headers: { "content-type": "application/x-tar" },
      body: contextTar(files, { name: dockerfileName, text: dockerfile }),
      signal: context.signal,
      // The daemon answers once it has the whole context: a big one on a slow link takes as long as it takes.
      timeoutMs: null,
    })
  } catch (error) {
    if (error instanceof ToolError) throw error
    throw new ToolError("docker.build", `sending the build context of ${input.projectDir} failed: ${(error as Error).message}`, { exitCode: 1, cause: error })
  }
  const fail = (message: string) =>
    new ToolError("docker.build", `building ${tag} FROM ${input.baseImage} failed: ${message.trim()}`, {
      hint: "the builder's output is above; check the base image and the project files",
      exitCode: 1,
    })
  if (!response.ok) throw fail(await errorMessage(response))
  let id: string | null = null
  for await (const message of jsonLines(response.body)) {
    if (message.error) throw fail(String(message.error))
    if (typeof message.stream === "string") {
      for (const line of message.stream.split("\n")) if (line.trim() !== "") context.emit({ type: "image.build.output", line })
    }
    const aux = message.aux as { ID?: string } | undefined
    if (aux?.ID) id = aux.ID
  }
  const built = await inspectImage(context.docker, tag, context.signal)
  id ??= built?.Id ?? null
  if (!id || !built) throw fail("the builder finished without producing an image")
  context.emit({ type: "image.build.done", image: tag, id, cached: false, ms: Math.round(performance.now() - started) })
  recordImageUse(context.env, id, tag)
  return described(tag, { ...built, Id: id }, { cached: false, built: true })
}

/**
 * The image a planned run uses: the project image with --build-image, else the base image. `exclude` lists absolute
 * paths kept out of the build context (the file store when it lives inside the project).
 */
export const prepareDockerImage = async (plan: DockerPlan, context: ImageContext, exclude: string[] = []): Promise<DockerImage> => {
  try {
    return plan.buildImage
      ? await buildProjectImage({ baseImage: plan.image, projectDir: plan.projectDir, projectName: plan.projectName, exclude }, context)
      : await ensureImage(plan.image, context)
  } catch (error) {
    // An interrupt aborts the pull or build request (the daemon then cancels it): one recognisable error, exit 130.
    if (!context.signal?.aborted) throw error
    throw new ToolError("run.interrupted", `${String(context.signal.reason ?? "SIGINT")} while preparing the image ${plan.image}: stopped`, { exitCode: 130, cause: error })
  }
}

/** What the run tags record about the image, as MLflow sets them with and without --build-image. */
export const imageTags = (image: DockerImage): Array<{ key: string; value: string }> => [
  { key: "mlflow.docker.image.uri", value: image.uri },
  { key: "mlflow.docker.image.id", value: image.id },
]
