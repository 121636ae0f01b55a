// Planning a Kubernetes run: every check that can fail (config, template, project, tracking store, cluster) before a run exists.
import { ToolError } from "../errors.ts"
import type { Emit } from "../events/event.ts"
import type { DockerPlan } from "../env/docker.ts"
import type { KubeClient } from "../kube/api.ts"
import { dbDialect } from "../tracking/sql/db-uri.ts"
import { readKubeConfig, type KubeConfig } from "./kubernetes-config.ts"
import { jobDefinition } from "./kubernetes-job.ts"
import { jobPath } from "./kubernetes-run.ts"

type Env = Record<string, string | undefined>

export type KubePlan = { config: KubeConfig; client: KubeClient; namespace: string }

/** The tracking URI the Job's container gets: KUBE_MLFLOW_TRACKING_URI when set (MLflow's override), else the run's own. */
export const clusterTrackingUri = (trackingUri: string, env: Env): string => env.KUBE_MLFLOW_TRACKING_URI || trackingUri

/** A store only this machine can open (a folder, a sqlite file) is refused: the run would record nothing from the cluster. */
const checkReachable = (trackingUri: string, env: Env) => {
  const uri = clusterTrackingUri(trackingUri, env)
  const local = uri.startsWith("file:") || uri.startsWith("/") || dbDialect(uri) === "sqlite"
  if (!local) return
  throw new ToolError("kube.tracking", `the tracking store ${uri} is on this machine: a Job on the cluster cannot record into it`, {
    hint: "run against a tracking server the cluster can reach (MLFLOW_TRACKING_URI=http://…), or set KUBE_MLFLOW_TRACKING_URI to the address the pods use",
  })
}

export type KubePlanInput = {
  rawConfig: unknown
  configDir: string | null
  cwd: string
  env: Env
  trackingUri: string
  projectName: string | null
  command: string
  docker: DockerPlan | null
  dockerArgs: Array<[string, string]>
  emit: Emit
  signal?: AbortSignal
}

export const planKubernetes = async (input: KubePlanInput): Promise<KubePlan> => {
  const config = readKubeConfig(input.rawConfig, input.cwd, input.configDir)
  for (const message of config.warnings) input.emit({ type: "warning", code: "kube.config", message })
  if (!input.docker) {
    throw new ToolError("kube.project", "the kubernetes backend runs docker_env projects only: this project has no docker_env", {
      hint: "add a docker_env section (image: …) to MLproject; the image built from it, with the project inside, is what the cluster runs",
    })
  }
  checkReachable(input.trackingUri, input.env)
  if (input.dockerArgs.length > 0) input.emit({ type: "warning", code: "kube.docker_args", message: "-A/--docker-args apply to local docker runs only: ignored on Kubernetes (set resources, volumes and the rest in the Job template)" })
  if (input.docker.volumes.length > 0) {
    input.emit({
      type: "warning",
      code: "kube.volumes",
      message: `docker_env.volumes cannot be mounted from this machine into a cluster's pods: ${input.docker.volumes.join(", ")} ignored`,
      hint: "declare volumes and volumeMounts in the Job template instead",
    })
  }
  const { connectKube } = await import("../kube/api.ts")
  const client = await connectKube(input.env, { context: config.context ?? undefined, signal: input.signal })
  const templateNamespace = (config.template.metadata as Record<string, unknown> | undefined)?.namespace
  const namespace = config.namespace ?? (typeof templateNamespace === "string" && templateNamespace ? templateNamespace : client.namespace)
  // The API server checks the Job as it will be sent (a placeholder image and run id): a template it refuses fails here.
  const probe = jobDefinition({
    template: config.template,
    projectName: input.projectName,
    image: `${config.repositoryUri}@sha256:${"0".repeat(64)}`,
    command: input.command,
    env: [["MLFLOW_RUN_ID", "0".repeat(32)], ["MLFLOW_TRACKING_URI", ""], ["MLFLOW_EXPERIMENT_ID", "0"]],
    runId: "0".repeat(32),
    experimentId: "0",
    namespace,
    imagePullSecrets: config.imagePullSecrets,
    serviceAccount: config.serviceAccount,
    now: new Date(),
  })
  try {
    await client.call("POST", jobPath(namespace), { query: { dryRun: "All" }, body: probe, signal: input.signal })
  } catch (error) {
    if (error instanceof ToolError && error.code === "kube.invalid") {
      throw new ToolError("kube.template", `${config.templatePath}: the API server refuses the Job made from this template: ${error.message}`, { hint: error.hint, cause: error })
    }
    throw error
  }
  return { config, client, namespace }
}
