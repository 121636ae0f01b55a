// Runs a docker project through the env and backend modules the way the run lifecycle does, collecting every event.
import { join } from "node:path"
import { startDocker, type DockerRunHandle } from "../../src/backend/docker.ts"
import type { RunOutcome } from "../../src/backend/types.ts"
import { containerSpec, planDocker } from "../../src/env/docker.ts"
import { buildProjectImage, ensureImage, type DockerEvent, type DockerImage } from "../../src/env/docker-image.ts"
import type { Event } from "../../src/events/event.ts"
import type { DockerEnv } from "../../src/project/types.ts"
import type { DockerClient } from "../../src/util/docker-api.ts"
import { requireDocker } from "./docker.ts"

type Env = Record<string, string | undefined>

export type HarnessOptions = {
  /** The daemon connection: the shared one over /var/run/docker.sock unless a test brings its own (TLS). */
  client?: DockerClient
  projectDir: string
  projectName?: string | null
  docker: Partial<DockerEnv> & { image: string }
  command: string
  dockerArgs?: Array<[string, string]>
  buildImage?: boolean
  env?: Env
  mlruns?: string
  graceMs?: number
  captureOutput?: boolean
  terminal?: Record<"stdout" | "stderr", (chunk: Uint8Array) => void>
  /** Called once the container runs: lets a test interrupt it. */
  onStarted?: (handle: DockerRunHandle, control: { interrupt(signal: string): void; force(): void; events: Array<Event | DockerEvent> }) => void
}

export type HarnessRun = {
  outcome: RunOutcome
  events: Array<Event | DockerEvent>
  stdout: string[]
  stderr: string[]
  image: DockerImage
  handle: DockerRunHandle
  runId: string
}

export const runInDocker = async (options: HarnessOptions): Promise<HarnessRun> => {
  const docker = options.client ?? requireDocker()
  const env = options.env ?? process.env
  const events: Array<Event | DockerEvent> = []
  const emit = (event: Event | DockerEvent) => void events.push(event)
  const plan = planDocker({
    docker: { volumes: [], environment: [], ...options.docker },
    projectDir: options.projectDir,
    projectName: options.projectName ?? "test-project",
    dockerArgs: options.dockerArgs ?? [],
    buildImage: options.buildImage ?? false,
    cwd: options.projectDir,
    env,
  })
  const mlruns = options.mlruns ?? join(options.projectDir, "mlruns")
  const context = { docker, env, emit }
  const image = plan.buildImage
    ? await buildProjectImage({ baseImage: plan.image, projectDir: plan.projectDir, projectName: plan.projectName, exclude: [mlruns] }, context)
    : await ensureImage(plan.image, context)
  const runId = crypto.randomUUID().replaceAll("-", "")
  const spec = containerSpec(plan, {
    image,
    command: options.command,
    runId,
    experimentId: "0",
    trackingUri: `file://${mlruns}`,
    artifactUri: `file://${mlruns}/0/${runId}/artifacts`,
    env,
    cwd: options.projectDir,
  })
  const interrupt = new AbortController()
  const force = new AbortController()
  const handle = await startDocker({
    docker,
    spec,
    runId,
    output: options.captureOutput === false ? { to: "terminal" } : { to: "events" },
    terminal: options.terminal,
    graceMs: options.graceMs ?? 10_000,
    emit,
    interrupt: interrupt.signal,
    forceInterrupt: force.signal,
  })
  options.onStarted?.(handle, { interrupt: (signal) => interrupt.abort(signal), force: () => force.abort("SIGINT"), events })
  const outcome = await handle.wait()
  const lines = (stream: "stdout" | "stderr") =>
    events.flatMap((event) => (event.type === "log" && event.stream === stream ? [event.line] : []))
  return { outcome, events, stdout: lines("stdout"), stderr: lines("stderr"), image, handle, runId }
}
