// Turns a RunRequest into a complete, validated plan before anything is created: project, command, environment.
import { readFileSync } from "node:fs"
import { dirname, extname, resolve } from "node:path"
import { ToolError } from "../errors.ts"
import { closest } from "../util/closest.ts"
import { warningFrom, type Emit } from "../events/event.ts"
import { loadProjectCached, warmLoader } from "../project/load-cached.ts"
import { entryPointFor } from "../project/entry-point.ts"
import { resolveParameters } from "../project/parameters.ts"
import type { EntryPoint, Project, ResolvedParameters } from "../project/types.ts"
import { isRemoteUri, resolveSource, type ProjectSource } from "../source/index.ts"
import { showingPaths, withShownLocation } from "../source/shown-paths.ts"
import { resolveTrackingUri } from "../tracking/tracking-uri.ts"
import { warmStoreCode } from "../tracking/store-for.ts"
import type { RunRequest } from "./request.ts"
import { downloadRemotePaths } from "./remote-paths.ts"
import type { DockerPlan } from "../env/docker.ts"
import type { DockerClient } from "../util/docker-api.ts"
import type { AskedAhead } from "../env/docker-image.ts"
import type { EnvPlan } from "../env/index.ts"
import type { KubePlan } from "../backend/kubernetes-plan.ts"
import type { DatabricksPlan } from "../backend/databricks-plan.ts"

export type EnvManager = "local" | "virtualenv" | "uv" | "conda" | "docker"

export type RunPlan = {
  request: RunRequest
  source: ProjectSource
  project: Project
  entryPoint: EntryPoint
  parameters: ResolvedParameters
  envManager: EnvManager
  trackingUri: string
  /** The entry command run by `bash -c` in the project folder. */
  argv: string[]
  cwd: string
  /** python_env/conda projects: the checked environment plan (built at launch), null for the local environment. */
  env: EnvPlan | null
  /**
   * Docker projects: the checked container plan and, unless this is a dry run, a connected daemon and the base image's
   * inspect sent to it (answered while the run is recorded).
   */
  docker?: { plan: DockerPlan; client: DockerClient | null; ahead?: AskedAhead }
  /** `-b kubernetes`: the checked backend config, the cluster connection and the namespace the Job goes to. */
  kube?: KubePlan
  /** `-b databricks`: the checked config, the workspace and what the driver runs. */
  databricks?: DatabricksPlan
}

const notYet = (what: string, hint: string): ToolError =>
  new ToolError("unsupported", `${what} is not supported yet by mlproject`, { hint })

const managers = ["local", "virtualenv", "uv", "conda"] as const

/** MLflow's automatic choice and explicit-choice rules (reference §1). */
export const chooseEnvManager = (project: Project, requested: string | undefined): EnvManager => {
  if (requested !== undefined && !(managers as readonly string[]).includes(requested)) {
    const near = closest(requested, managers)
    throw new ToolError("usage", `Invalid value for \`env_manager\`: ${requested}. Must be one of ['local', 'virtualenv', 'uv', 'conda']`, near ? { hint: `did you mean --env-manager ${near}?` } : undefined)
  }
  if (project.env.kind === "docker") return "docker"
  if (project.env.kind === "python_env" && requested === "conda") {
    throw new ToolError(
      "env.incompatible",
      "python_env project cannot be executed using conda. Set `--env-manager` to 'virtualenv' or 'local' to execute this project.",
    )
  }
  if (requested !== undefined) return requested as EnvManager
  if (project.env.kind === "conda_env") return "conda"
  if (project.env.kind === "python_env") return "virtualenv"
  // No environment file: MLflow builds an empty virtualenv (which needs pyenv); the system environment is what users mean.
  return "local"
}

/** `-c`: a `.json` file or inline JSON, read as `mlflow run` reads it; `dir` is the file's folder. */
const readBackendConfig = (raw: string, cwd: string): { value: unknown; dir: string | null } => {
  let text = raw
  let dir: string | null = null
  if (extname(raw) === ".json") {
    const path = resolve(cwd, raw)
    try {
      text = readFileSync(path, "utf8")
      dir = dirname(path)
    } catch (error) {
      throw new ToolError("usage", `--backend-config ${raw}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? String(error)})`)
    }
  }
  try {
    return { value: JSON.parse(text), dir }
  } catch (error) {
    throw new ToolError("usage", `Invalid backend config JSON. Parse error: ${(error as Error).message.replace(/^JSON Parse error: /, "")}`, { hint: "give inline JSON (-c '{}') or a file ending in .json" })
  }
}

const isEmptyObject = (value: unknown): boolean => typeof value === "object" && value !== null && !Array.isArray(value) && Object.keys(value).length === 0

const backends = ["local", "kubernetes", "databricks"]

type BackendConfig = { backend: "kubernetes" | "databricks"; value: unknown; dir: string | null }

/** The backend config to plan with: null for the local backend (which takes none), the parsed config for the others. */
const checkBackend = (request: RunRequest, cwd: string): BackendConfig | null => {
  if (!backends.includes(request.backend)) {
    const near = closest(request.backend, backends)
    throw new ToolError("usage", `unknown backend '${request.backend}': expected local, kubernetes or databricks`, near ? { hint: `did you mean -b ${near}?` } : undefined)
  }
  if (request.backend === "kubernetes" || request.backend === "databricks") {
    return { backend: request.backend, ...(request.backendConfig === undefined ? { value: null, dir: null } : readBackendConfig(request.backendConfig, cwd)) }
  }
  // An empty configuration is what MLflow accepts for the local backend; anything in it would be silently ignored.
  if (request.backendConfig !== undefined && !isEmptyObject(readBackendConfig(request.backendConfig, cwd).value)) {
    throw notYet("a non-empty --backend-config", "the local backend takes no configuration: drop -c (or give -c '{}')")
  }
  return null
}

export const planRun = async (
  request: RunRequest,
  context: { emit: Emit; cwd: string; env: Record<string, string | undefined>; signal?: AbortSignal },
): Promise<RunPlan> => {
  const backendConfig = checkBackend(request, context.cwd)
  const trackingUri = resolveTrackingUri(context.env, context.cwd)
  // A fetch waits on the network: the loader and the store's code load meanwhile (the store itself is not opened
  // until the project checks out, so a failed fetch still records nothing).
  if (isRemoteUri(request.uri, context.cwd)) {
    warmLoader()
    warmStoreCode(trackingUri, context.env)
  }
  const source = await resolveSource({
    uri: request.uri,
    version: request.version,
    cwd: context.cwd,
    emit: context.emit,
    signal: context.signal,
    env: context.env,
    fetcher: request.fetcher,
  })
  try {
    return await planProject(request, source, trackingUri, backendConfig, { ...context, emit: showingPaths(source, context.emit) })
  } catch (error) {
    await source.cleanup()
    throw withShownLocation(source, error)
  }
}

/** docker_env and -A checked; docker and python environment code is loaded only by the projects that need it. */
const planDockerEnv = async (
  request: RunRequest,
  project: Project,
  command: string,
  context: { cwd: string; env: Record<string, string | undefined>; signal?: AbortSignal },
) => {
  const { checkDaemonLimits, codeDir, planDocker, shellCommand } = await import("../env/docker.ts")
  if (project.env.kind !== "docker") throw new Error("planDockerEnv needs a docker_env project")
  const plan = planDocker({
    docker: project.env.docker,
    projectDir: project.dir,
    projectName: project.name,
    dockerArgs: request.dockerArgs,
    buildImage: request.buildImage,
    cwd: context.cwd,
    env: context.env,
  })
  return { plan, argv: shellCommand(command), cwd: codeDir, checkLimits: (client: DockerClient) => checkDaemonLimits(plan, client, context.signal) }
}

const planProject = async (
  request: RunRequest,
  source: ProjectSource,
  trackingUri: string,
  backendConfig: BackendConfig | null,
  context: { emit: Emit; cwd: string; env: Record<string, string | undefined>; signal?: AbortSignal },
): Promise<RunPlan> => {
  // A fetched project gets a new working folder every run, which no cache entry would ever match.
  const { project, warnings } = await loadProjectCached(source.dir, context.env, { cache: source.kind === "local", root: source.root })
  for (const warning of warnings) context.emit(warningFrom(warning))
  context.emit({
    type: "project.loaded",
    dir: project.dir,
    file: project.file,
    name: project.name,
    env: project.env.kind,
    entry_points: project.entry_points.map((ep) => ep.name),
  })
  const entryPoint = entryPointFor(project, request.entryPoint)
  const checked = resolveParameters(entryPoint, request.params, { cwd: context.cwd, remotePaths: "keep" })
  for (const warning of checked.warnings) context.emit(warningFrom(warning))
  // A pack's environment is built as it was resolved (a conda.yaml packed as a virtualenv stays one).
  const packManager = source.pack && ["virtualenv", "uv"].includes(source.pack.manifest.env.manager) ? source.pack.manifest.env.manager : undefined
  const envManager = chooseEnvManager(project, request.envManager ?? packManager)
  if (backendConfig?.backend === "databricks") {
    // Remote paths stay as given: the driver downloads them, and a local file here would mean nothing there.
    const { planDatabricks } = await import("../backend/databricks-plan.ts")
    const databricks = await planDatabricks({ rawConfig: backendConfig.value, env: context.env, trackingUri, projectEnv: project.env.kind, emit: context.emit, signal: context.signal })
    return { request, source, project, entryPoint, parameters: checked, envManager, trackingUri, env: null, argv: ["bash", "-c", checked.command], cwd: project.dir, databricks }
  }
  // Downloads happen here, after every check and before any run exists: a failed download records nothing.
  const parameters = await downloadRemotePaths(entryPoint, checked, {
    storageDir: request.storageDir,
    noCache: request.noCache,
    dryRun: request.dryRun,
    emit: context.emit,
    env: context.env,
    signal: context.signal,
  })
  const base = { request, source, project, entryPoint, parameters, envManager, trackingUri, env: null }
  if (backendConfig?.backend === "kubernetes") {
    const { planKubernetes } = await import("../backend/kubernetes-plan.ts")
    const docker = project.env.kind === "docker" ? await planDockerEnv(request, project, parameters.command, context) : null
    const kube = await planKubernetes({
      rawConfig: backendConfig.value,
      configDir: backendConfig.dir,
      cwd: context.cwd,
      env: context.env,
      trackingUri,
      projectName: project.name,
      command: parameters.command,
      docker: docker?.plan ?? null,
      dockerArgs: request.dockerArgs,
      emit: context.emit,
      signal: context.signal,
    })
    // The dry run connects no daemon: it plans only.
    const client = request.dryRun ? null : await (await import("../util/docker-api.ts")).connectDocker(context.env, context.signal)
    if (!docker) throw new Error("planKubernetes accepted a project without docker_env")
    return { ...base, envManager: "docker", argv: docker.argv, cwd: docker.cwd, docker: { plan: docker.plan, client }, kube }
  }
  if (project.env.kind === "docker") {
    const docker = await planDockerEnv(request, project, parameters.command, context)
    // Connecting here makes an unreachable daemon fail before any run is recorded.
    const client = request.dryRun ? null : await (await import("../util/docker-api.ts")).connectDocker(context.env, context.signal)
    if (client) await docker.checkLimits(client)
    if (client && source.pack?.manifest.image) await (await import("../pack/offline.ts")).loadPackImage(source.pack, client, context)
    if (!client) return { ...base, argv: docker.argv, cwd: docker.cwd, docker: { plan: docker.plan, client } }
    const ahead = (await import("../env/docker-image.ts")).inspectAhead(client, docker.plan.image, context.signal)
    return { ...base, argv: docker.argv, cwd: docker.cwd, docker: { plan: docker.plan, client, ahead } }
  }
  if (request.dockerArgs.length > 0 || request.buildImage) {
    context.emit({ type: "warning", code: "docker.ignored", message: "-A/--docker-args and --build-image apply to docker_env projects only: ignored" })
  }
  // Planning checks the environment file, requirements, tools and interpreter before any run exists; building waits for launch.
  const env =
    envManager === "local" || envManager === "docker"
      ? null
      : await (await import("../env/index.ts")).planEnvironment({
          project,
          manager: envManager,
          emit: context.emit,
          signal: context.signal,
          env: source.pack ? (await import("../pack/offline.ts")).offlineInstallEnv(source.pack, context.env) : context.env,
          rebuild: request.rebuildEnv,
          offline: Boolean(source.pack),
          ...(source.pack?.manifest.env.python ? { python: source.pack.manifest.env.python } : {}),
        })
  return { ...base, env, argv: ["bash", "-c", parameters.command], cwd: project.dir }
}

/**
 * The same plan with other parameter values (a sweep's trials): checked, remote paths downloaded, the command and
 * argv made anew; the project, source and environment plan are shared.
 */
export const withParameters = async (
  plan: RunPlan,
  params: Array<[string, string]>,
  context: { emit: Emit; cwd: string; env: Record<string, string | undefined>; signal?: AbortSignal },
): Promise<RunPlan> => {
  const checked = resolveParameters(plan.entryPoint, params, { cwd: context.cwd, remotePaths: "keep" })
  for (const warning of checked.warnings) context.emit(warningFrom(warning))
  const parameters = await downloadRemotePaths(plan.entryPoint, checked, {
    storageDir: plan.request.storageDir,
    noCache: plan.request.noCache,
    dryRun: plan.request.dryRun,
    emit: context.emit,
    env: context.env,
    signal: context.signal,
  })
  const request = { ...plan.request, params }
  if (plan.docker) return { ...plan, request, parameters, argv: (await import("../env/docker.ts")).shellCommand(parameters.command) }
  return { ...plan, request, parameters, argv: ["bash", "-c", parameters.command] }
}
