// The docker backend: the entry point in a container created, attached and started through the Engine API, always removed.
import { mkdirSync, writeSync } from "node:fs"
import { ToolError } from "../errors.ts"
import type { ContainerSpec } from "../env/docker.ts"
import { connectDocker, errorMessage, type DockerClient } from "../util/docker-api.ts"
import { stderrFd, stdoutFd } from "../util/fd-out.ts"
import { demultiplex, lineSplitter, type StreamName } from "../util/docker-stream.ts"
import { prepareDocker } from "./docker-prepare.ts"
import { escalateInterrupts } from "./interrupts.ts"
import type { Backend, RunControl, RunHandle, RunOutcome } from "./types.ts"

type Terminal = Record<StreamName, (chunk: Uint8Array) => void>

export type DockerLaunch = RunControl & {
  docker: DockerClient
  spec: ContainerSpec
  /** Where raw output goes when it is not captured as `log` events: the terminal unless a caller says otherwise. */
  terminal?: Terminal
}

export type DockerRunHandle = RunHandle & { containerId: string; containerName: string }

const processTerminal: Terminal = {
  stdout: (chunk) => stdoutFd.write(chunk),
  stderr: (chunk) => stderrFd.write(chunk),
}

// A detached run's log gets both streams interleaved, as a terminal would show them.
const fileTerminal = (fd: number): Terminal => ({ stdout: (chunk) => void writeSync(fd, chunk), stderr: (chunk) => void writeSync(fd, chunk) })

// Containers whose removal the daemon reported (AutoRemove): the removal a caller always makes does not ask again.
const removedContainers = new Set<string>()

/** Removes the container and its anonymous volumes; a container that is already gone is fine. */
export const removeContainer = async (docker: DockerClient, id: string): Promise<void> => {
  if (removedContainers.delete(id)) return
  const response = await docker.request("DELETE", `/containers/${id}`, { query: { force: 1, v: 1 } })
  if (!response.ok && response.status !== 404) throw new ToolError("docker.remove", `removing container ${id.slice(0, 12)}: ${await errorMessage(response)}`, { exitCode: 1 })
  await response.body?.cancel()
}

const killContainer = async (docker: DockerClient, id: string, signal: string): Promise<void> => {
  // 409 means it already stopped: nothing left to signal.
  const response = await docker.request("POST", `/containers/${id}/kill`, { query: { signal } }).catch(() => null)
  await response?.body?.cancel()
}

export const createContainer = async (docker: DockerClient, spec: ContainerSpec): Promise<string> => {
  for (const dir of spec.hostDirs) mkdirSync(dir, { recursive: true })
  const response = await docker.request("POST", "/containers/create", { query: { name: spec.name }, json: spec.body })
  if (response.ok) return ((await response.json()) as { Id: string }).Id
  const message = await errorMessage(response)
  // 400 is a value the daemon rejects (a bad -A device, runtime, network…): the user's input.
  throw new ToolError("docker.create", `creating the container for ${spec.body.Image} failed: ${message}`, {
    hint: response.status === 400 ? "check the -A docker arguments and docker_env in MLproject" : undefined,
    exitCode: response.status === 400 ? 2 : 1,
  })
}

/** Output as `log` events, one per line and stream, or raw bytes to the terminal or the log file. */
const outputSink = (launch: StartCreated) => {
  if (launch.output.to !== "events") {
    const terminal = launch.output.to === "file" ? fileTerminal(launch.output.fd) : (launch.terminal ?? processTerminal)
    return { push: (stream: StreamName, chunk: Uint8Array) => terminal[stream](chunk), end: () => {} }
  }
  const splitters = {
    stdout: lineSplitter((line) => launch.emit({ type: "log", stream: "stdout", line })),
    stderr: lineSplitter((line) => launch.emit({ type: "log", stream: "stderr", line })),
  }
  return {
    push: (stream: StreamName, chunk: Uint8Array) => splitters[stream].push(chunk),
    end: () => {
      splitters.stdout.end()
      splitters.stderr.end()
    },
  }
}

type StartCreated = RunControl & { docker: DockerClient; id: string; name: string; image: string; terminal?: Terminal; autoRemove?: boolean }

// An AutoRemove container is removed by the daemon right after its exit; should that not come, the caller's removal
// (always done) takes over after this long.
const removalWaitMs = 10_000

type WaitStatus = { StatusCode?: number; Error?: { Message?: string } | null }

/** Waits for the answer to a `condition=removed` wait, within removalWaitMs; true when it says the container is gone. */
const removedByDaemon = async (removal: Response): Promise<boolean> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  const gaveUp = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), removalWaitMs)))
  const confirms = (status: WaitStatus | null) => typeof status?.StatusCode === "number" && !status.Error?.Message
  const answered = removal.json().then((status) => confirms(status as WaitStatus | null), () => false)
  const removed = await Promise.race([answered, gaveUp])
  clearTimeout(timer)
  return removed
}

/**
 * Attaches before starting (no output is lost) and starts a created container; `wait` does not remove it, so a retry
 * can start it again. One created with AutoRemove the daemon removes at its exit: `settled` waits for that, while the
 * caller records how the run ended. Interrupts: the first forwards the signal to the container (tini passes it to the
 * process group), the grace period or a second interrupt kills it.
 */
export const startCreated = async (launch: StartCreated): Promise<DockerRunHandle> => {
  const { docker, id } = launch
  const sink = outputSink(launch)
  let attached: Response | null = null
  let exited: Response
  let removal: Response | null = null
  const waitFor = (condition: string) => docker.request("POST", `/containers/${id}/wait`, { query: { condition } })
  try {
    const [attach, wait, removed] = await Promise.all([
      docker.request("POST", `/containers/${id}/attach`, { query: { stream: 1, stdout: 1, stderr: 1 } }),
      waitFor("next-exit"),
      launch.autoRemove ? waitFor("removed") : null,
    ])
    removal = removed
    if (!attach.ok) throw new ToolError("docker.attach", `attaching to container ${id.slice(0, 12)}: ${await errorMessage(attach)}`, { exitCode: 1 })
    for (const answer of [wait, removed]) {
      if (answer && !answer.ok) throw new ToolError("docker.wait", `waiting for container ${id.slice(0, 12)}: ${await errorMessage(answer)}`, { exitCode: 1 })
    }
    exited = wait
    attached = attach
    const started = await docker.request("POST", `/containers/${id}/start`)
    if (!started.ok) {
      const message = await errorMessage(started)
      throw new ToolError("docker.start", `starting the container for ${launch.image} failed: ${message}`, {
        hint: /docker-init/i.test(message)
          ? "this daemon has no docker-init (used so a stop signal reaches every process): run with -A init=false"
          : /executable file not found/i.test(message)
            ? "the image needs sh (or bash) on its PATH to run the entry command"
            : "check the -A docker arguments (devices, network, runtime, gpus) against what this daemon offers",
        exitCode: 1,
      })
    }
    await started.body?.cancel()
  } catch (error) {
    await removal?.body?.cancel().catch(() => {})
    await attached?.body?.cancel().catch(() => {})
    throw error
  }
  const inspected = await docker.request("GET", `/containers/${id}/json`)
  // The daemon says Pid 0 for a container that has already exited: no pid, not 0 (kill(0) signals the caller's group).
  const hostPid = inspected.ok ? ((await inspected.json()) as { State?: { Pid?: number } }).State?.Pid : undefined
  const pid = hostPid !== undefined && hostPid > 0 ? hostPid : null

  const escalation = escalateInterrupts(launch, {
    forward: (signal) => void killContainer(docker, id, signal),
    kill: () => void killContainer(docker, id, "SIGKILL"),
  })
  let settling: Promise<void> | null = null
  const settled = (): Promise<void> =>
    (settling ??= (async () => {
      if (removal && (await removedByDaemon(removal))) removedContainers.add(id)
    })())
  const wait = async (): Promise<RunOutcome> => {
    // The output is read from here on, once the caller has said the run started: its log lines come after run.started.
    // Until then (a daemon round trip) the daemon holds what the container writes.
    const output = attached?.body ? demultiplex(attached.body, sink.push) : Promise.resolve()
    try {
      const status = (await exited.json()) as Required<WaitStatus>
      const endedAt = Date.now()
      await output
      sink.end()
      if (status.Error?.Message) {
        await settled()
        throw new ToolError("docker.wait", `container ${id.slice(0, 12)}: ${status.Error.Message}`, { exitCode: 1 })
      }
      return { exitCode: status.StatusCode, signal: null, interrupted: escalation.interrupted(), endedAt }
    } finally {
      escalation.detach()
    }
  }
  return { pid, record: { backend: "docker", container: id }, containerId: id, containerName: launch.name, wait, settled }
}

/** Creates the container and runs it to the end; it is always removed (the test harness and one-shot callers). */
export const startDocker = async (launch: DockerLaunch): Promise<DockerRunHandle> => {
  const id = await createContainer(launch.docker, launch.spec)
  let handle: DockerRunHandle
  try {
    handle = await startCreated({ ...launch, id, name: launch.spec.name, image: launch.spec.body.Image })
  } catch (error) {
    await removeContainer(launch.docker, id).catch(() => {})
    throw error
  }
  const wait = async (): Promise<RunOutcome> => {
    try {
      return await handle.wait()
    } catch (error) {
      // The original failure matters more than a removal that fails after it.
      await removeContainer(launch.docker, id).catch(() => {})
      throw error
    }
  }
  return {
    ...handle,
    wait: async () => {
      const outcome = await wait()
      await handle.settled?.()
      await removeContainer(launch.docker, id)
      return outcome
    },
    settled: undefined,
  }
}

/** Whether the container still runs (from a record, in any process). */
const containerRunning = async (docker: DockerClient, id: string): Promise<boolean> => {
  const response = await docker.request("GET", `/containers/${id}/json`).catch(() => null)
  if (!response?.ok) {
    await response?.body?.cancel()
    return false
  }
  return Boolean(((await response.json()) as { State?: { Running?: boolean } }).State?.Running)
}

export const dockerBackend: Backend = {
  prepare: prepareDocker,
  async start(spec, env, control) {
    if (spec.backend !== "docker") throw new Error(`a ${spec.backend} launch reached the docker backend`)
    const docker = await connectDocker(env, control.interrupt)
    return startCreated({ ...control, docker, id: spec.container, name: spec.name, image: spec.image, autoRemove: spec.autoRemove })
  },
  async alive(record, env) {
    if (record.backend !== "docker") return false
    return containerRunning(await connectDocker(env), record.container)
  },
  async stop(record, env, graceMs) {
    if (record.backend !== "docker") return
    const docker = await connectDocker(env)
    await killContainer(docker, record.container, "SIGTERM")
    for (let waited = 0; waited < graceMs && (await containerRunning(docker, record.container)); waited += 100) await new Promise((r) => setTimeout(r, 100))
    await removeContainer(docker, record.container).catch(() => {})
  },
}
