// The Kubernetes backend: the project image built and pushed, a Job made from the user's template, followed to its end.
import { fileURLToPath } from "node:url"
import type { RunContext } from "../run/context.ts"
import type { Emit } from "../events/event.ts"
import { connectKube } from "../kube/api.ts"
import { clusterTrackingUri } from "./kubernetes-plan.ts"
import { jobDefinition, jobName, kubeletLiteral } from "./kubernetes-job.ts"
import { deleteJob, followJob, jobPath } from "./kubernetes-run.ts"
import { jobView } from "./kubernetes-watch.ts"
import type { Backend, LaunchSpec, LaunchTarget, Prepared } from "./types.ts"
import { ToolError } from "../errors.ts"

type Env = Record<string, string | undefined>
type Obj = Record<string, any>
type KubeSpec = Extract<LaunchSpec, { backend: "kubernetes" }>

/**
 * The Job's variables travel to whoever starts it (this process or a supervisor) as process variables, never in the
 * run's record: docker_env.environment may copy a secret from this machine.
 */
const variableName = (index: number) => `MLPROJECT_JOB_ENV_${index}`

const prepareKubernetes = async (target: LaunchTarget, context: RunContext): Promise<Prepared> => {
  const { plan, info, store } = target
  const kube = plan.kube
  const docker = plan.docker
  if (!kube || !docker?.client) throw new Error("a kubernetes plan without its cluster and daemon reached the kubernetes backend")
  const [{ buildProjectImage, imageTags }, { pushImage }] = await Promise.all([import("../env/docker-image.ts"), import("../env/image-push.ts")])
  const imageContext = { docker: docker.client, env: context.env, emit: context.emit as Emit, signal: context.interrupt }
  const exclude = plan.trackingUri.startsWith("file:") ? [fileURLToPath(plan.trackingUri)] : []
  // The cluster cannot see this machine's folders: the project always goes into the image, with or without --build-image.
  const built = await buildProjectImage(
    { baseImage: docker.plan.image, projectDir: docker.plan.projectDir, projectName: docker.plan.projectName, exclude, repository: kube.config.repositoryUri },
    imageContext,
  )
  const pushed = await pushImage(built.uri, imageContext)
  const image = `${kube.config.repositoryUri}@${pushed.digest}`
  // The registry's digest, not the local image id (MLflow #7005): what the cluster pulls is what the run names.
  await store.logBatch(info.run_id, { tags: imageTags({ ...built, uri: image, id: pushed.digest }) }, { signal: context.interrupt })
  context.emit({ type: "env.ready", manager: "docker", key: pushed.digest, cached: built.cached && !pushed.pushed, image })
  const variables: Array<[string, string]> = [
    ["MLFLOW_RUN_ID", info.run_id],
    ["MLFLOW_TRACKING_URI", clusterTrackingUri(plan.trackingUri, context.env)],
    ["MLFLOW_EXPERIMENT_ID", target.experimentId],
    ...docker.plan.environment,
  ]
  const job = jobDefinition({
    template: kube.config.template,
    projectName: plan.project.name,
    image,
    command: plan.parameters.command,
    env: variables.map(([name]) => [name, ""]),
    runId: info.run_id,
    experimentId: target.experimentId,
    namespace: kube.namespace,
    imagePullSecrets: kube.config.imagePullSecrets,
    serviceAccount: kube.config.serviceAccount,
    now: new Date(),
  })
  const spec: KubeSpec = {
    backend: "kubernetes",
    context: kube.config.context,
    namespace: kube.namespace,
    job,
    projectName: plan.project.name,
    variables: variables.map(([name]) => name),
    artifactUri: info.artifact_uri,
    pendingTimeoutMs: kube.config.pendingTimeoutMs,
  }
  const env: Env = { ...context.env, MLFLOW_TRACKING_URI: plan.trackingUri, ...Object.fromEntries(variables.map(([, value], i) => [variableName(i), value])) }
  return { spec, env, leases: [], release: async () => {} }
}

/** The Job as created: a new name (MLflow's project name and time) per attempt, the variables filled in from `env`. */
const jobToCreate = (spec: KubeSpec, env: Env): Obj => {
  const job = structuredClone(spec.job) as Obj
  job.metadata.name = jobName(spec.projectName, new Date())
  const container = job.spec.template.spec.containers[0] as Obj
  for (const [index, name] of spec.variables.entries()) {
    const entry = (container.env as Obj[]).find((item) => item.name === name)
    if (entry) entry.value = kubeletLiteral(env[variableName(index)] ?? "")
  }
  return job
}

const saveLog = (spec: KubeSpec, env: Env) => async (path: string) => {
  const trackingUri = env.MLFLOW_TRACKING_URI
  if (!trackingUri) return
  const { logArtifact } = await import("../tracking/rest-artifacts.ts")
  await logArtifact({ trackingUri, env, artifactUri: spec.artifactUri, localPath: path, artifactPath: "kubernetes" })
}

export const kubernetesBackend: Backend = {
  prepare: prepareKubernetes,
  async start(spec, env, control) {
    if (spec.backend !== "kubernetes") throw new Error(`a ${spec.backend} launch reached the kubernetes backend`)
    const kube = await connectKube(env, { context: spec.context ?? undefined, signal: control.interrupt })
    const job = jobToCreate(spec, env)
    const name = String(job.metadata.name)
    try {
      await kube.call("POST", jobPath(spec.namespace), { body: job, signal: control.interrupt })
    } catch (error) {
      // A create whose answer was lost may have taken effect: the Job is looked for before giving up.
      const found = error instanceof ToolError && error.exitCode === 1 ? await kube.call("GET", jobPath(spec.namespace, name), { allow404: true }).catch(() => null) : null
      if (!found) throw error
    }
    control.emit({ type: "kube.job.created", run_id: control.runId, job: name, namespace: spec.namespace, context: kube.context, server: kube.server })
    const container = String(job.spec.template.spec.containers[0].name)
    return {
      pid: null,
      record: { backend: "kubernetes", context: spec.context, namespace: spec.namespace, job: name },
      wait: () => followJob({ ...control, kube, namespace: spec.namespace, job: name, container, pendingTimeoutMs: spec.pendingTimeoutMs, saveLog: saveLog(spec, env) }),
    }
  },
  async alive(record, env) {
    if (record.backend !== "kubernetes") return false
    const kube = await connectKube(env, { context: record.context ?? undefined })
    const job = await kube.call<Obj>("GET", jobPath(record.namespace, record.job), { allow404: true })
    return job !== null && jobView(job).condition === null
  },
  async stop(record, env, graceMs) {
    if (record.backend !== "kubernetes") return
    const kube = await connectKube(env, { context: record.context ?? undefined })
    await deleteJob(kube, record.namespace, record.job, Math.ceil(graceMs / 1000))
  },
}
