// The docker backend: the entry point in a container created, attached and started through the Engine API, always removed.
import { mkdirSync } from "node:fs"
import { ToolError } from "../errors.ts"
import type { ContainerSpec } from "../env/docker.ts"
import { errorMessage, type DockerClient } from "../util/docker-api.ts"
import { demultiplex, lineSplitter, type StreamName } from "../util/docker-stream.ts"
import { escalateInterrupts } from "./interrupts.ts"
import type { RunControl, RunHandle, RunOutcome } from "./types.ts"

export type DockerLaunch = RunControl & {
  docker: DockerClient
  spec: ContainerSpec
  /** Where raw output goes when it is not captured as `log` events: the terminal unless a caller says otherwise. */
  terminal?: Record<StreamName, (chunk: Uint8Array) => void>
}

export type DockerRunHandle = RunHandle & { containerId: string; containerName: string }

const processTerminal: Record<StreamName, (chunk: Uint8Array) => void> = {
  stdout: (chunk) => void process.stdout.write(chunk),
  stderr: (chunk) => void process.stderr.write(chunk),
}

/** Removes the container and its anonymous volumes; a container that is already gone is fine. */
export const removeContainer = async (docker: DockerClient, id: string): Promise<void> => {
  const response = await docker.request("DELETE", `/containers/${id}`, { query: { force: 1, v: 1 } })
  if (!response.ok && response.status !== 404) throw new ToolError("docker.remove", `removing container ${id.slice(0, 12)}: ${await errorMessage(response)}`, { exitCode: 1 })
  await response.body?.cancel()
}

const killContainer = async (docker: DockerClient, id: string, signal: string): Promise<void> => {
  // 409 means it already stopped: nothing left to signal.
  const response = await docker.request("POST", `/containers/${id}/kill`, { query: { signal } }).catch(() => null)
  await response?.body?.cancel()
}

const createContainer = async (docker: DockerClient, spec: ContainerSpec): Promise<string> => {
  const response = await docker.request("POST", "/containers/create", { query: { name: spec.name }, json: spec.body })
  if (response.ok) return ((await response.json()) as { Id: string }).Id
  const message = await errorMessage(response)
  // 400 is a value the daemon rejects (a bad -A device, runtime, network…): the user's input.
  throw new ToolError("docker.create", `creating the container for ${spec.body.Image} failed: ${message}`, {
    hint: response.status === 400 ? "check the -A docker arguments and docker_env in MLproject" : undefined,
    exitCode: response.status === 400 ? 2 : 1,
  })
}

/** Output as `log` events, one per line and stream, or raw bytes to the terminal. */
const outputSink = (launch: DockerLaunch) => {
  if (!launch.captureOutput) {
    const terminal = launch.terminal ?? processTerminal
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

/**
 * Creates, attaches before starting (no output is lost) and starts the container. Interrupts: the first forwards the
 * signal to the container (tini passes it to the process group), the grace period or a second interrupt kills it.
 */
export const startDocker = async (launch: DockerLaunch): Promise<DockerRunHandle> => {
  const { docker, spec } = launch
  for (const dir of spec.hostDirs) mkdirSync(dir, { recursive: true })
  const id = await createContainer(docker, spec)
  const sink = outputSink(launch)
  let output: Promise<void> = Promise.resolve()
  let exited: Response
  try {
    const [attach, wait] = await Promise.all([
      docker.request("POST", `/containers/${id}/attach`, { query: { stream: 1, stdout: 1, stderr: 1 } }),
      docker.request("POST", `/containers/${id}/wait`, { query: { condition: "next-exit" } }),
    ])
    if (!attach.ok) throw new ToolError("docker.attach", `attaching to container ${id.slice(0, 12)}: ${await errorMessage(attach)}`, { exitCode: 1 })
    if (!wait.ok) throw new ToolError("docker.wait", `waiting for container ${id.slice(0, 12)}: ${await errorMessage(wait)}`, { exitCode: 1 })
    exited = wait
    output = attach.body ? demultiplex(attach.body, sink.push) : Promise.resolve()
    const started = await docker.request("POST", `/containers/${id}/start`)
    if (!started.ok) {
      const message = await errorMessage(started)
      throw new ToolError("docker.start", `starting the container for ${spec.body.Image} failed: ${message}`, {
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
    await removeContainer(docker, id).catch(() => {})
    await output.catch(() => {})
    throw error
  }
  const inspected = await docker.request("GET", `/containers/${id}/json`)
  const pid = inspected.ok ? (((await inspected.json()) as { State?: { Pid?: number } }).State?.Pid ?? 0) : 0

  const escalation = escalateInterrupts(launch, {
    forward: (signal) => void killContainer(docker, id, signal),
    kill: () => void killContainer(docker, id, "SIGKILL"),
  })
  const wait = async (): Promise<RunOutcome> => {
    let outcome: RunOutcome
    try {
      const status = (await exited.json()) as { StatusCode: number; Error?: { Message?: string } | null }
      const endedAt = Date.now()
      await output
      sink.end()
      if (status.Error?.Message) throw new ToolError("docker.wait", `container ${id.slice(0, 12)}: ${status.Error.Message}`, { exitCode: 1 })
      outcome = { exitCode: status.StatusCode, signal: null, interrupted: escalation.interrupted(), endedAt }
    } catch (error) {
      escalation.detach()
      // The original failure matters more than a removal that fails after it.
      await removeContainer(docker, id).catch(() => {})
      throw error
    }
    escalation.detach()
    await removeContainer(docker, id)
    return outcome
  }
  return { pid, containerId: id, containerName: spec.name, wait }
}
