// A docker_env run's container: docker_env and -A checked up front, then variables and mounts resolved into one create body.
import { existsSync } from "node:fs"
import { basename, dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { ToolError } from "../errors.ts"
import { publicVariables } from "../util/redact.ts"
import { dbDialect, parseDbUri, type SqliteTarget } from "../tracking/sql/db-uri.ts"
import type { DockerEnv } from "../project/types.ts"
import { bindSpec, mapDockerArgs, minCpus, type MappedArgs } from "./docker-args.ts"
import type { DockerClient } from "../util/docker-api.ts"
import type { DockerImage } from "./docker-image.ts"

type Env = Record<string, string | undefined>

export const codeDir = "/mlflow/projects/code"
const storeMount = "/mlflow/tmp/mlruns"
const selfMount = "/mlflow/bin"
// Docker's default PATH, for images whose config sets none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

export type DockerPlan = {
  image: string
  projectDir: string
  projectName: string | null
  buildImage: boolean
  /** docker_env.environment resolved against the host, in file order. */
  environment: Array<[string, string]>
  /** docker_env.volumes with `$(pwd)`, `$VAR` and relative host paths resolved. */
  volumes: string[]
  args: MappedArgs
}

export type PlanInput = {
  docker: DockerEnv
  projectDir: string
  projectName: string | null
  dockerArgs: Array<[string, string]>
  buildImage: boolean
  /** Where mlproject was started: relative `-A volume=` host paths resolve against it. */
  cwd: string
  env: Env
}

/** docker_env.environment: pairs set, names copy the host's value; every missing name is reported at once (exit 2). */
export const resolveEnvironment = (entries: DockerEnv["environment"], env: Env): Array<[string, string]> => {
  const names = entries.filter((entry): entry is string => typeof entry === "string" && !entry.includes("="))
  const missing = names.filter((name) => env[name] === undefined)
  if (missing.length > 0) {
    throw new ToolError(
      "docker.env.missing",
      `This project expects the ${names.join(", ")} environment variables to be set on the machine running the project, but ${missing.join(", ")} ${missing.length === 1 ? "was" : "were"} not set. Please ensure all expected environment variables are set`,
      { hint: `set ${missing.join(", ")} before running, or give the value in MLproject as [NAME, value]` },
    )
  }
  return entries.map((entry): [string, string] => {
    if (Array.isArray(entry)) return [entry[0], entry[1]]
    // `NAME=value` as a bare string is what users mean by docker's -e; MLflow would look for a variable so named.
    const eq = entry.indexOf("=")
    return eq > 0 ? [entry.slice(0, eq), entry.slice(eq + 1)] : [entry, env[entry] as string]
  })
}

/** Everything about the container that does not depend on the run: checked before any run is created. */
/**
 * `-A cpus` beyond the daemon's CPUs is refused by the daemon only when the container starts, after the run exists:
 * asked here, once a daemon is connected and before anything is recorded.
 */
export const checkDaemonLimits = async (plan: DockerPlan, client: DockerClient, signal?: AbortSignal): Promise<void> => {
  const nanoCpus = plan.args.hostConfig.NanoCpus as number | undefined
  if (nanoCpus === undefined) return
  const response = await client.request("GET", "/info", { signal })
  if (!response.ok) return void (await response.body?.cancel())
  const cpus = ((await response.json()) as { NCPU?: number }).NCPU
  if (typeof cpus === "number" && cpus > 0 && nanoCpus > cpus * 1e9) {
    throw new ToolError("docker.args", `-A cpus=${nanoCpus / 1e9}: expected a number of CPUs from ${minCpus} to ${cpus}, the CPUs the Docker daemon has`)
  }
}

export const planDocker = (input: PlanInput): DockerPlan => {
  if (!input.docker.image) {
    throw new ToolError(
      "project.invalid",
      "Project with docker environment must specify the docker image to use via an 'image' field under the 'docker_env' field.",
    )
  }
  const args = mapDockerArgs(input.dockerArgs, { cwd: input.cwd, env: input.env })
  return {
    image: input.docker.image,
    projectDir: input.projectDir,
    projectName: input.projectName,
    buildImage: input.buildImage,
    environment: resolveEnvironment(input.docker.environment, input.env),
    // MLflow hands volumes to a shell started in the project folder, so `$(pwd)` and relative paths mean that folder.
    volumes: input.docker.volumes.map((volume) => bindSpec(volume, input.projectDir, input.env)),
    args,
  }
}

/** `dirs`: host folders to create before the container starts, so the daemon does not create them owned by root. */
type Access = { binds: string[]; env: Array<[string, string]>; dirs?: string[] }

const pick = (env: Env, names: string[]): Array<[string, string]> =>
  names.filter((name) => env[name] !== undefined).map((name) => [name, env[name] as string])

/** How the container reaches the tracking store: a file store or sqlite file is mounted, a server URI passes as is. */
export const trackingAccess = (trackingUri: string, env: Env, cwd: string): Access => {
  if (trackingUri.startsWith("file:") || trackingUri.startsWith("/")) {
    const path = trackingUri.startsWith("/") ? trackingUri : fileURLToPath(trackingUri)
    return {
      dirs: [path],
      binds: [`${path}:${storeMount}`],
      env: [["MLFLOW_TRACKING_URI", `file://${storeMount}`], ["MLFLOW_ALLOW_FILE_STORE", "true"]],
    }
  }
  if (dbDialect(trackingUri) === "sqlite") {
    // The folder, not the file as MLflow mounts it: sqlite keeps its journal (-journal, or -wal and -shm) beside the database, and a
    // container that saw only the file would write a journal of its own and corrupt it.
    const target = parseDbUri(trackingUri, cwd) as SqliteTarget
    const query = trackingUri.includes("?") ? trackingUri.slice(trackingUri.indexOf("?")) : ""
    return { binds: [`${dirname(target.path)}:${storeMount}`], env: [["MLFLOW_TRACKING_URI", `sqlite:///${storeMount}/${basename(target.path)}${query}`]] }
  }
  if (trackingUri === "databricks" || trackingUri.startsWith("databricks:")) {
    return { binds: [], env: [["MLFLOW_TRACKING_URI", trackingUri], ...pick(env, ["DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET"])] }
  }
  // A tracking server's credentials travel in the create body's environment, never in argv or events.
  const serverAuth = ["MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_INSECURE_TLS"]
  return { binds: [], env: [["MLFLOW_TRACKING_URI", trackingUri], ...pick(env, serverAuth)] }
}

/** How the container writes artifacts, chosen by the run's artifact URI as MLflow chooses it. */
export const artifactAccess = (artifactUri: string, env: Env): Access => {
  if (artifactUri.startsWith("file:") || artifactUri.startsWith("/")) {
    // The run's meta.yaml holds the host path, so the folder is mounted at that same path.
    const path = artifactUri.startsWith("/") ? artifactUri : fileURLToPath(artifactUri)
    return { binds: [`${path}:${path}`], env: [], dirs: [path] }
  }
  if (artifactUri.startsWith("s3:")) {
    const awsDir = join(env.HOME ?? "/nonexistent", ".aws")
    const names = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION", "MLFLOW_S3_ENDPOINT_URL", "MLFLOW_S3_IGNORE_TLS"]
    return { binds: existsSync(awsDir) ? [`${awsDir}:/.aws`] : [], env: pick(env, names) }
  }
  if (artifactUri.startsWith("gs:")) {
    const file = env.GOOGLE_APPLICATION_CREDENTIALS
    return file ? { binds: [`${file}:/.gcs:ro`], env: [["GOOGLE_APPLICATION_CREDENTIALS", "/.gcs"]] } : { binds: [], env: [] }
  }
  if (/^(wasbs?|abfss?):/.test(artifactUri)) return { binds: [], env: pick(env, ["AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCESS_KEY"]) }
  if (artifactUri.startsWith("hdfs:") || artifactUri.startsWith("viewfs:")) {
    const ticket = env.MLFLOW_KERBEROS_TICKET_CACHE
    return { binds: ticket ? [`${ticket}:${ticket}`] : [], env: pick(env, ["MLFLOW_KERBEROS_TICKET_CACHE", "MLFLOW_KERBEROS_USER", "MLFLOW_PYARROW_EXTRA_CONF"]) }
  }
  return { binds: [], env: [] }
}

export type RunContext = {
  image: DockerImage
  /** The entry command, parameters already quoted: run by a shell inside the container. */
  command: string
  runId: string
  experimentId: string
  trackingUri: string
  artifactUri: string
  env: Env
  cwd: string
  /** The running mlproject binary on the host (null when none can be handed on). */
  self?: string | null
  /** The daemon removes the container once it exits (as `docker run --rm`): a run that is never started again. */
  autoRemove?: boolean
}

const dockerArchitectures: Record<string, string> = { x64: "amd64", arm64: "arm64" }

/**
 * The binary is mounted read-only (at /mlflow/bin/mlproject, on PATH, named by MLPROJECT_BIN) when the image runs
 * on this machine's OS and architecture, so `mlproject log` works in the container too. A musl image (Alpine) needs
 * its glibc compatibility package for it.
 */
export const selfAccess = (self: string | null | undefined, image: DockerImage): Access => {
  const runnable = self && process.platform === "linux" && image.platform?.os === "linux" && image.platform.architecture === dockerArchitectures[process.arch]
  if (!runnable) return { binds: [], env: [] }
  return {
    binds: [`${self}:${selfMount}/mlproject:ro`],
    env: [["MLPROJECT_BIN", `${selfMount}/mlproject`], ["PATH", `${image.path ?? defaultPath}:${selfMount}`]],
  }
}

export type ContainerSpec = {
  name: string
  /** The create body. It carries credentials in Env: never log it; show `containerVariables` instead. */
  body: Record<string, unknown> & { Image: string; Cmd: string[]; Env: string[] }
  /** Host folders the backend creates before starting (the store and artifact folders). */
  hostDirs: string[]
}

/**
 * bash when the image has it (the shell of a local run), else sh: the command string arrives as one argument, so no host
 * shell re-splits it and quoting stays exact.
 */
export const shellCommand = (command: string): string[] => [
  "sh",
  "-c",
  'if command -v bash >/dev/null 2>&1; then exec bash -c "$1"; fi; exec sh -c "$1"',
  "mlproject",
  command,
]

export const containerSpec = (plan: DockerPlan, run: RunContext): ContainerSpec => {
  const tracking = trackingAccess(run.trackingUri, run.env, run.cwd)
  const artifacts = artifactAccess(run.artifactUri, run.env)
  const self = selfAccess(run.self, run.image)
  const init = plan.args.hostConfig.Init !== false
  // Later entries win: ours first (a PATH set by docker_env or -A replaces ours), then MLflow's order (run, tracking,
  // artifacts, docker_env.environment), then -A env.
  const variables = new Map<string, string>([
    ...self.env,
    // tini (docker's --init) then forwards a stop signal to the whole process group, as a local run's group receives it.
    ...(init ? [["TINI_KILL_PROCESS_GROUP", "1"] as [string, string]] : []),
    ["MLFLOW_RUN_ID", run.runId],
    ["MLFLOW_TRACKING_URI", run.trackingUri],
    ["MLFLOW_EXPERIMENT_ID", run.experimentId],
    ...tracking.env,
    ...artifacts.env,
    ...plan.environment,
    ...plan.args.env,
  ])
  const binds = [
    ...self.binds,
    ...(plan.buildImage ? [] : [`${plan.projectDir}:${codeDir}`]),
    ...tracking.binds,
    ...artifacts.binds,
    ...plan.volumes,
    ...plan.args.binds,
  ]
  const { Labels: labels, ...config } = plan.args.config
  return {
    hostDirs: [...(tracking.dirs ?? []), ...(artifacts.dirs ?? [])],
    name: plan.args.name ?? `mlflow-${run.runId.slice(0, 12)}-${crypto.randomUUID().slice(0, 6)}`,
    body: {
      Image: run.image.uri,
      Cmd: shellCommand(run.command),
      Env: [...variables].map(([name, value]) => `${name}=${value}`),
      WorkingDir: codeDir,
      Labels: { "org.mlflow.run-id": run.runId, "org.mlflow.experiment-id": run.experimentId, ...(labels as Record<string, string> | undefined) },
      AttachStdin: false,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      OpenStdin: false,
      ...config,
      HostConfig: { Init: init, ...plan.args.hostConfig, Binds: binds, ...(run.autoRemove ? { AutoRemove: true } : {}) },
    },
  }
}

/** The container's variables for display (dry run, debugging): values of credential-like names masked. */
export const containerVariables = (spec: ContainerSpec): Record<string, string> =>
  publicVariables(
    Object.fromEntries(
      spec.body.Env.map((entry) => {
        const eq = entry.indexOf("=")
        return [entry.slice(0, eq), entry.slice(eq + 1)]
      }),
    ),
  )
