// The Kubernetes backend's configuration (`-c`), read as MLflow reads it, plus namespace, pull secrets, service account and timeouts.
import { existsSync, readFileSync } from "node:fs"
import { isAbsolute, resolve } from "node:path"
import { LineCounter, parseDocument } from "yaml"
import { ToolError } from "../errors.ts"
import { closest } from "../util/closest.ts"
import { parseImageRef } from "../util/docker-auth.ts"

export type KubeConfig = {
  /** kubeconfig context; null: the current context (or in-cluster config). */
  context: string | null
  /** Where the image is pushed: `host[:port]/path`, without tag or digest. */
  repositoryUri: string
  templatePath: string
  /** The Job template as parsed (a fresh copy per use: transforms must never share it). */
  template: Record<string, unknown>
  /** Overrides the template's `metadata.namespace`. */
  namespace: string | null
  imagePullSecrets: string[]
  serviceAccount: string | null
  /** How long a pod may stay unschedulable or unable to pull its image before the run is FAILED (ms). */
  pendingTimeoutMs: number
  warnings: string[]
}

const known = ["kube-context", "repository-uri", "kube-job-template-path", "namespace", "image-pull-secrets", "service-account", "pending-timeout"]

// A pod that cannot be scheduled or pulled waits forever on a real cluster: five minutes covers an autoscaler adding a node.
const defaultPendingTimeoutS = 300

const configError = (message: string, hint?: string) => new ToolError("kube.config", message, { hint })

const text = (config: Record<string, unknown>, key: string): string | null => {
  const value = config[key]
  if (value === undefined || value === null) return null
  if (typeof value !== "string" || value.trim() === "") throw configError(`backend config '${key}' must be a non-empty string, got ${JSON.stringify(value)}`)
  return value
}

const names = (config: Record<string, unknown>, key: string): string[] => {
  const value = config[key]
  if (value === undefined || value === null) return []
  const list = typeof value === "string" ? value.split(",").map((name) => name.trim()).filter(Boolean) : value
  if (!Array.isArray(list) || list.some((name) => typeof name !== "string" || !dnsSubdomain.test(name))) {
    throw configError(`backend config '${key}' must be a secret name or a list of them (lowercase DNS names), got ${JSON.stringify(value)}`)
  }
  return list as string[]
}

const dnsSubdomain = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

/** MLflow opens the path as given (relative to the current folder); a config file's neighbour is found too. */
const findTemplate = (given: string, cwd: string, configDir: string | null): string => {
  const candidates = isAbsolute(given) ? [given] : [resolve(cwd, given), ...(configDir ? [resolve(configDir, given)] : [])]
  const found = candidates.find((path) => existsSync(path))
  if (!found) throw configError(`Could not find 'kube-job-template-path': ${given}`, `looked in ${[...new Set(candidates)].join(" and ")}`)
  return found
}

/** Reads the Job template: YAML errors are located (file:line), and it must be a batch/v1 Job with a container. */
export const readTemplate = (path: string): Record<string, unknown> => {
  const lines = new LineCounter()
  const document = parseDocument(readFileSync(path, "utf8"), { prettyErrors: false, lineCounter: lines })
  const problem = document.errors[0]
  if (problem) {
    const line = lines.linePos(problem.pos[0]).line
    throw new ToolError("kube.template", `${path}${line ? `:${line}` : ""}: the Job template is not valid YAML: ${problem.message.split("\n")[0]}`)
  }
  const template = document.toJS() as unknown
  const where = (field: string) => `${path}: the Job template ${field}`
  if (typeof template !== "object" || template === null || Array.isArray(template)) throw new ToolError("kube.template", where("must be a mapping (a Kubernetes Job)"))
  const job = template as Record<string, any>
  if (job.kind !== undefined && job.kind !== "Job") {
    throw new ToolError("kube.template", where(`has kind '${job.kind}': only Job is supported`), { hint: "write a batch/v1 Job template (kind: Job)" })
  }
  const containers = job.spec?.template?.spec?.containers
  if (!Array.isArray(containers) || containers.length === 0 || typeof containers[0] !== "object" || containers[0] === null) {
    throw new ToolError("kube.template", where("has no spec.template.spec.containers[0]: the entry point runs in the first container"))
  }
  return job
}

/** `-c` for `-b kubernetes`, in MLflow's order and words; `configDir` is the folder of a `-c FILE.json`. */
export const readKubeConfig = (raw: unknown, cwd: string, configDir: string | null): KubeConfig => {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw) || Object.keys(raw).length === 0) {
    throw configError("Backend_config file not found.", 'give -c kubernetes_config.json with "kube-job-template-path" and "repository-uri"')
  }
  const config = raw as Record<string, unknown>
  // MLflow ignores keys it does not know, so a config written for it may hold some: a warning, not an error.
  const warnings = Object.keys(config)
    .filter((key) => !known.includes(key))
    .map((key) => {
      const near = closest(key, known)
      return `unknown key '${key}' in the kubernetes backend config: ignored${near ? ` (did you mean '${near}'?)` : ""}`
    })
  const templateGiven = text(config, "kube-job-template-path")
  if (templateGiven === null) throw configError("'kube-job-template-path' attribute must be specified in backend_config.")
  const templatePath = findTemplate(templateGiven, cwd, configDir)
  const template = readTemplate(templatePath)
  const repositoryUri = text(config, "repository-uri")
  if (repositoryUri === null) throw configError("Could not find 'repository-uri' in backend_config.")
  if (repositoryUri.includes("@") || parseImageRef(repositoryUri).name !== repositoryUri || !/^[a-z0-9][a-z0-9._\-/:]*$/.test(repositoryUri)) {
    throw configError(`'repository-uri' ${repositoryUri} must be an image repository without tag or digest (host[:port]/path)`, "the image is tagged by the project's content hash")
  }
  const timeout = config["pending-timeout"] ?? defaultPendingTimeoutS
  if (typeof timeout !== "number" || !(timeout > 0)) throw configError(`backend config 'pending-timeout' must be a positive number of seconds, got ${JSON.stringify(timeout)}`)
  const namespace = text(config, "namespace")
  if (namespace !== null && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace)) throw configError(`backend config 'namespace' ${namespace} is not a valid namespace name`)
  return {
    context: text(config, "kube-context"),
    repositoryUri,
    templatePath,
    template,
    namespace,
    imagePullSecrets: names(config, "image-pull-secrets"),
    serviceAccount: text(config, "service-account"),
    pendingTimeoutMs: timeout * 1000,
    warnings,
  }
}
