// Starts the planned entry point on its backend (a local process group or a docker container) and waits for it.
import { fileURLToPath } from "node:url"
import type { RunContext } from "./context.ts"
import { startLocal } from "../backend/local.ts"
import type { RunControl, RunOutcome } from "../backend/types.ts"
import type { Emit } from "../events/event.ts"
import type { RunInfo, Store } from "../tracking/types.ts"
import type { RunPlan } from "./plan.ts"
import { selfBinary, selfVariables } from "./self.ts"

/** `mlproject log` works inside every entry point: the running binary is on its PATH and named by MLPROJECT_BIN. */
const withSelf = (env: Record<string, string | undefined>, outer: Record<string, string | undefined>): Record<string, string | undefined> => ({
  ...env,
  ...selfVariables(outer, env.PATH),
})

export type LaunchTarget = { plan: RunPlan; info: RunInfo; experimentId: string; variables: Record<string, string>; store: Store }

const control = (target: LaunchTarget, context: RunContext): RunControl => ({
  runId: target.info.run_id,
  captureOutput: context.captureOutput,
  graceMs: target.plan.request.graceMs,
  emit: context.emit,
  interrupt: context.interrupt,
  forceInterrupt: context.forceInterrupt,
})

/** Called with the time the entry point started: `duration_ms` counts from there, not from the environment build. */
export type OnStarted = (at: number) => void

const launchDocker = async (target: LaunchTarget, context: RunContext, onStarted: OnStarted): Promise<RunOutcome> => {
  const { plan, info, store } = target
  const docker = plan.docker
  if (!docker?.client) throw new Error("a docker plan without a daemon connection reached launch")
  const [{ startDocker }, { codeDir, containerSpec }, { imageTags, prepareDockerImage }] = await Promise.all([
    import("../backend/docker.ts"),
    import("../env/docker.ts"),
    import("../env/docker-image.ts"),
  ])
  // A file store inside the project must not change the build context's hash on every run.
  const exclude = plan.trackingUri.startsWith("file:") ? [fileURLToPath(plan.trackingUri)] : []
  const image = await prepareDockerImage(
    docker.plan,
    { docker: docker.client, env: context.env, emit: context.emit as Emit, signal: context.interrupt },
    exclude,
  )
  await store.logBatch(info.run_id, { tags: imageTags(image) }, { signal: context.interrupt })
  context.emit({ type: "env.ready", manager: "docker", key: image.id, cached: image.cached, image: image.uri })
  const spec = containerSpec(docker.plan, {
    image,
    command: plan.parameters.command,
    runId: info.run_id,
    experimentId: target.experimentId,
    trackingUri: plan.trackingUri,
    artifactUri: info.artifact_uri,
    env: context.env,
    cwd: context.cwd,
    self: selfBinary(),
  })
  const handle = await startDocker({
    docker: docker.client,
    spec,
    ...control(target, context),
  })
  onStarted(Date.now())
  context.emit({ type: "run.started", run_id: info.run_id, command: plan.parameters.command, cwd: codeDir, pid: handle.pid })
  return handle.wait()
}

const launchLocal = async (target: LaunchTarget, context: RunContext, onStarted: OnStarted): Promise<RunOutcome> => {
  const { plan, info } = target
  const environments = plan.env ? await Promise.all([import("../env/index.ts"), import("../env/activate.ts")]) : null
  // Held until the entry point has ended, so no gc removes the environment it runs in.
  using _lease = plan.env && environments ? environments[0].leaseEnvironment(plan.env) : null
  const prepared =
    plan.env && environments
      ? await environments[0].buildEnvironment(plan.env, { emit: context.emit, signal: context.interrupt, env: context.env, rebuild: plan.request.rebuildEnv, verbose: plan.request.verbose })
      : null
  const activation = environments?.[1]
  if (!prepared) context.emit({ type: "env.ready", manager: "local", key: null, cached: false })
  const handle = await startLocal({
    argv: prepared && activation ? ["bash", "-c", activation.wrapCommand(prepared, plan.parameters.command)] : plan.argv,
    cwd: plan.cwd,
    env: withSelf({ ...(prepared && activation ? activation.activatedEnv(prepared, context.env) : context.env), ...target.variables }, context.env),
    ...control(target, context),
  })
  onStarted(Date.now())
  context.emit({ type: "run.started", run_id: info.run_id, command: plan.parameters.command, cwd: plan.cwd, pid: handle.pid })
  return await handle.wait()
}

export const launch = (target: LaunchTarget, context: RunContext, onStarted: OnStarted): Promise<RunOutcome> =>
  target.plan.docker ? launchDocker(target, context, onStarted) : launchLocal(target, context, onStarted)
