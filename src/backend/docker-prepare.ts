// Preparing a docker run: the image pulled or built, its tags recorded, and the container created (started later).
import { fileURLToPath } from "node:url"
import type { Emit } from "../events/event.ts"
import type { RunContext } from "../run/context.ts"
import { selfBinary } from "../run/self.ts"
import type { LaunchTarget, Prepared } from "./types.ts"

export const prepareDocker = async (target: LaunchTarget, context: RunContext): Promise<Prepared> => {
  const { plan, info, store } = target
  const docker = plan.docker
  if (!docker?.client) throw new Error("a docker plan without a daemon connection reached the docker backend")
  const client = docker.client
  const [{ createContainer, removeContainer }, { containerSpec }, { imageTags, prepareDockerImage }] = await Promise.all([
    import("./docker.ts"),
    import("../env/docker.ts"),
    import("../env/docker-image.ts"),
  ])
  // A file store inside the project must not change the build context's hash on every run.
  const exclude = plan.trackingUri.startsWith("file:") ? [fileURLToPath(plan.trackingUri)] : []
  const imageContext = { docker: client, env: context.env, emit: context.emit as Emit, signal: context.interrupt, ...(docker.ahead ? { ahead: docker.ahead } : {}) }
  const image = await prepareDockerImage(docker.plan, imageContext, exclude)
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
    // Without retries it is started once: the daemon removes it right at its exit, as `docker run --rm` has it do.
    autoRemove: plan.request.retries === 0,
  })
  // Created here, started later (maybe by a supervisor): a value the daemon refuses fails before anything runs. The daemon
  // creates it while the image tags are written (a store call that may hold this thread, as SQLite does).
  const creating = createContainer(client, spec)
  const tagged = store.logBatch(info.run_id, { tags: imageTags(image) }, { signal: context.interrupt })
  const [created, logged] = await Promise.allSettled([creating, tagged])
  if (created.status === "rejected" || logged.status === "rejected") {
    if (created.status === "fulfilled") await removeContainer(client, created.value).catch(() => {})
    throw created.status === "rejected" ? created.reason : (logged as PromiseRejectedResult).reason
  }
  const container = created.value
  return {
    spec: { backend: "docker", container, name: spec.name, image: spec.body.Image, autoRemove: plan.request.retries === 0 },
    env: context.env,
    leases: [],
    release: () => removeContainer(client, container).catch(() => {}),
  }
}
