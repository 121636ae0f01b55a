// The Job a Kubernetes run creates: the user's template with MLflow's replacements, plus env, pull secrets, account and labels.
import { shellCommand } from "../env/docker.ts"

export const runIdLabel = "mlflow.org/run-id"
export const experimentIdLabel = "mlflow.org/experiment-id"

export type JobInput = {
  template: Record<string, unknown>
  projectName: string | null
  /** `<repository>@<registry digest>`: what the pod pulls, exactly what was pushed. */
  image: string
  /** The entry command, parameters already quoted: run by a shell in the container as a local run's bash runs it. */
  command: string
  /** MLflow's three (run id, tracking URI, experiment id), then docker_env.environment, in that order. */
  env: Array<[string, string]>
  runId: string
  experimentId: string
  namespace: string
  imagePullSecrets: string[]
  serviceAccount: string | null
  now: Date
}

/**
 * The kubelet expands `$(NAME)` in command, args and env values, and turns `$$` into `$`: doubling every `$` makes
 * the kubelet hand the container exactly the text we wrote.
 */
export const kubeletLiteral = (text: string): string => text.replaceAll("$", "$$$$")

/** A DNS-1123 label from any text: lowercase, `-` for the rest, no leading or trailing `-`, at most `max` characters. */
export const dnsLabel = (text: string, max = 63): string =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .slice(0, max)
    .replace(/^-+|-+$/g, "")

const pad = (value: number, width = 2) => String(value).padStart(width, "0")

/** MLflow's `%Y-%m-%d-%H-%M-%S-%f` in local time (microseconds: the milliseconds and three zeros). */
export const jobTimestamp = (now: Date): string =>
  `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}-${pad(now.getHours())}-${pad(now.getMinutes())}-${pad(now.getSeconds())}-${pad(now.getMilliseconds(), 3)}000`

/**
 * MLflow's `<project name>-<timestamp>`, made a valid name: the project part is shortened so the whole fits in 63
 * characters (MLflow sends it as is, and the API server refuses uppercase, `_` or a long name).
 */
export const jobName = (projectName: string | null, now: Date): string => {
  const stamp = jobTimestamp(now)
  const prefix = dnsLabel(projectName ?? "", 63 - stamp.length - 1) || "mlflow-project"
  return `${prefix}-${stamp}`
}

/** The container's name: MLflow uses the project name, which must be a DNS-1123 label too. */
export const containerName = (projectName: string | null): string => dnsLabel(projectName ?? "") || "mlflow-project"

type Obj = Record<string, any>

const objectAt = (parent: Obj, key: string): Obj => {
  if (typeof parent[key] !== "object" || parent[key] === null || Array.isArray(parent[key])) parent[key] = {}
  return parent[key] as Obj
}

/** The template transformed as MLflow's `_get_kubernetes_job_definition` does, with our additions; the template is not changed. */
export const jobDefinition = (input: JobInput): Obj => {
  const job = structuredClone(input.template) as Obj
  const name = jobName(input.projectName, input.now)
  const labels = { [runIdLabel]: input.runId, [experimentIdLabel]: input.experimentId }
  job.apiVersion ??= "batch/v1"
  job.kind ??= "Job"
  const metadata = objectAt(job, "metadata")
  metadata.name = name
  delete metadata.generateName
  metadata.namespace = input.namespace
  metadata.labels = { ...(metadata.labels as Obj | undefined), ...labels }
  const podTemplate = objectAt(objectAt(job, "spec"), "template")
  const podMetadata = objectAt(podTemplate, "metadata")
  podMetadata.labels = { ...(podMetadata.labels as Obj | undefined), ...labels }
  const pod = objectAt(podTemplate, "spec")
  // A Job's pods must not restart forever; a template without a policy would be refused by the API server.
  pod.restartPolicy ??= "Never"
  if (input.serviceAccount) pod.serviceAccountName = input.serviceAccount
  if (input.imagePullSecrets.length > 0) {
    const present = new Set(((pod.imagePullSecrets as Obj[] | undefined) ?? []).map((secret) => secret?.name))
    pod.imagePullSecrets = [...((pod.imagePullSecrets as Obj[] | undefined) ?? []), ...input.imagePullSecrets.filter((secret) => !present.has(secret)).map((secret) => ({ name: secret }))]
  }
  const container = (pod.containers as Obj[])[0] as Obj
  container.name = containerName(input.projectName)
  container.image = input.image
  // Exec form of `sh -c` (bash when the image has it): the command string arrives as one argument, quoting exact.
  container.command = shellCommand(input.command).map(kubeletLiteral)
  const env = Array.isArray(container.env) ? (container.env as Obj[]) : []
  const ours = new Set(input.env.map(([key]) => key))
  // Ours win over the template's entries of the same name: a duplicate name would leave the kubelet to pick one.
  container.env = [...env.filter((entry) => !ours.has(entry?.name)), ...input.env.map(([key, value]) => ({ name: key, value: kubeletLiteral(value) }))]
  return job
}
