// The Databricks backend: the project, launcher and binaries uploaded by content, one Jobs 2.1 run submitted and followed.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ToolError } from "../errors.ts"
import type { RunContext } from "../run/context.ts"
import { randomHex, sha256Hex } from "../util/random.ts"
import launcherSource from "./databricks-launcher.py" with { type: "text" }
import { workspaceApi, type DatabricksApi } from "./databricks-api.ts"
import { cancelRun, followRun, getRun, isTerminal, taskOutput, type JobRun } from "./databricks-run.ts"
import type { Backend, BackendRecord, LaunchSpec, LaunchTarget, Prepared } from "./types.ts"

type Env = Record<string, string | undefined>
type DatabricksSpec = Extract<LaunchSpec, { backend: "databricks" }>
type DatabricksRecord = Extract<BackendRecord, { backend: "databricks" }>

/** `packed`, for the project: whether it was packed by this run (false: the archive of an earlier run was still good). */
type Upload = { what: string; local: string; target: string; bytes: number; packed?: boolean }

type Check = { target: string; bytes: number }

/** Whether a file of each size is already at its target, asked at once: one round trip, not one per file. */
const presentAt = async (api: DatabricksApi, checks: Check[], signal: AbortSignal): Promise<Map<string, boolean>> => {
  const { targetSize } = await import("../databricks/upload.ts")
  const sizes = await Promise.all(checks.map((check) => targetSize(api.workspace, check.target, signal)))
  return new Map(checks.map((check, at) => [check.target, sizes[at] === check.bytes]))
}

/**
 * Each upload unless `known` (or a check of the targets it does not answer) finds it there already. The uploads go one
 * at a time: the big ones (the project, a 100 MB binary) would only share the same link.
 */
const uploadAll = async (api: DatabricksApi, uploads: Upload[], context: RunContext, runId: string, known: Map<string, boolean>): Promise<void> => {
  const { uploadFile } = await import("../databricks/upload.ts")
  const asked = await presentAt(api, uploads.filter((upload) => !known.has(upload.target)), context.interrupt)
  for (const upload of uploads) {
    const started = performance.now()
    const present = known.get(upload.target) ?? asked.get(upload.target)
    const result = present ? { uploaded: false, bytes: upload.bytes } : await uploadFile(api.workspace, upload.local, upload.target, { signal: context.interrupt })
    context.emit({ type: "databricks.upload", run_id: runId, what: upload.what, target: upload.target, bytes: result.bytes, uploaded: result.uploaded, ...(upload.packed === undefined ? {} : { packed: upload.packed }), ms: Math.round(performance.now() - started) })
  }
}

const prepareDatabricks = async (target: LaunchTarget, context: RunContext): Promise<Prepared> => {
  const { plan, info } = target
  const db = plan.databricks
  if (!db) throw new Error("a databricks plan without its config reached the databricks backend")
  const api = await workspaceApi(db.workspaceUri, context.env)
  const root = db.config.uploadRoot ?? `dbfs:/mlflow-experiments/${target.experimentId}/projects-code`
  const work = mkdtempSync(join(tmpdir(), "mlproject-databricks-"))
  try {
    const launcherFile = join(work, "launcher.py")
    writeFileSync(launcherFile, launcherSource)
    const launcherTarget = `${root}/mlproject-launcher-${sha256Hex(launcherSource).slice(0, 16)}.py`
    const binaries = db.launcher === "binary" ? db.binaries.map((binary) => ({ ...binary, target: `${root}/mlproject-bin/${binary.sha256}/mlproject-linux-${binary.arch}` })) : []
    const rest: Upload[] = [
      { what: "launcher", local: launcherFile, target: launcherTarget, bytes: Buffer.byteLength(launcherSource) },
      ...binaries.map((binary) => ({ what: `mlproject linux-${binary.arch}`, local: binary.path, target: binary.target, bytes: binary.bytes })),
    ]
    const archiveFile = join(work, "project.tar.gz")
    const { packedBefore, projectArchive } = await import("../databricks/archive.ts")
    // An unchanged project whose archive is still in the workspace is not packed again (seconds for a large one).
    const before = await packedBefore(plan.project.dir, context.env)
    const archiveTargetOf = (archive: { sha256: string }) => `${root}/${archive.sha256}.tar.gz`
    const known = await presentAt(api, [...(before ? [{ target: archiveTargetOf(before), bytes: before.bytes }] : []), ...rest], context.interrupt)
    const reused = before !== null && known.get(archiveTargetOf(before)) === true
    const archive = reused ? before : await projectArchive(plan.project.dir, archiveFile, context.env)
    const archiveTarget = archiveTargetOf(archive)
    await uploadAll(api, [{ what: "project", local: archiveFile, target: archiveTarget, bytes: archive.bytes, packed: !reused }, ...rest], context, info.run_id, known)
    const request = plan.request
    const parameters = [
      ...["--archive", archiveTarget, "--archive-sha256", archive.sha256, "--launcher", db.launcher],
      ...binaries.flatMap((binary) => ["--binary", `${binary.arch}=${binary.target}=${binary.sha256}`]),
      ...["--run-id", info.run_id, "--experiment-id", target.experimentId, "--tracking-uri", db.clusterTrackingUri],
      ...(db.config.trackingTokenSecret ? ["--tracking-token-secret", `${db.config.trackingTokenSecret.scope}/${db.config.trackingTokenSecret.key}`] : []),
      ...["--entry-point", request.entryPoint],
      ...(request.envManager ? ["--env-manager", request.envManager] : []),
      // The values as given: the driver resolves defaults and paths against the project there (MLflow #2821).
      ...request.params.flatMap(([name, value]) => ["-P", `${name}=${value}`]),
    ]
    const wantsMlflow = db.launcher === "mlflow" && !db.config.libraries.some((library) => /^mlflow([=<>!~\s[]|$)/.test(String((library as { pypi?: { package?: string } }).pypi?.package ?? "")))
    const payload = {
      run_name: db.config.runName ?? `MLflow Run for ${request.uri}`,
      ...(db.config.timeoutSeconds !== null ? { timeout_seconds: db.config.timeoutSeconds } : {}),
      tasks: [
        {
          task_key: "mlproject",
          ...db.config.cluster,
          libraries: [...db.config.libraries, ...(wantsMlflow ? [{ pypi: { package: "mlflow" } }] : [])],
          spark_python_task: { python_file: launcherTarget, parameters },
        },
      ],
    }
    const spec: DatabricksSpec = { backend: "databricks", workspaceUri: db.workspaceUri, payload }
    return { spec, env: { ...context.env, MLFLOW_TRACKING_URI: plan.trackingUri }, leases: [], release: async () => {} }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

/** `runs/submit` with an idempotency token: a submit whose answer was lost is sent again without starting a second run. */
const submit = async (api: DatabricksApi, payload: Record<string, unknown>, signal: AbortSignal): Promise<number> => {
  const body = { ...payload, idempotency_token: `mlproject-${randomHex(12)}` }
  const answer = await api.call<{ run_id?: number }>("POST", "/api/2.1/jobs/runs/submit", { body, signal, idempotent: true })
  if (typeof answer.run_id !== "number") throw new ToolError("databricks.api", `${api.host} answered runs/submit without a run_id`, { exitCode: 1 })
  return answer.run_id
}

const runTags = (api: DatabricksApi, run: JobRun, databricksRunId: number) => [
  ...(run.run_page_url ? [{ key: "mlflow.databricks.runURL", value: run.run_page_url }] : []),
  { key: "mlflow.databricks.shellJobRunID", value: String(databricksRunId) },
  { key: "mlflow.databricks.webappURL", value: api.host },
  ...(run.job_id !== undefined ? [{ key: "mlflow.databricks.shellJobID", value: String(run.job_id) }] : []),
]

export const databricksBackend: Backend = {
  prepare: prepareDatabricks,
  async start(spec, env, control) {
    if (spec.backend !== "databricks") throw new Error(`a ${spec.backend} launch reached the databricks backend`)
    const api = await workspaceApi(spec.workspaceUri, env)
    const databricksRunId = await submit(api, spec.payload, control.interrupt)
    const run = await getRun(api, databricksRunId, control.interrupt)
    control.emit({ type: "databricks.run.submitted", run_id: control.runId, databricks_run_id: databricksRunId, url: run.run_page_url ?? null, workspace: api.host })
    const trackingUri = env.MLFLOW_TRACKING_URI
    if (trackingUri) {
      const { storeFor } = await import("../tracking/index.ts")
      await storeFor(trackingUri, env).logBatch(control.runId, { tags: runTags(api, run, databricksRunId) }, { signal: control.interrupt })
    }
    return {
      pid: null,
      record: { backend: "databricks", workspace: spec.workspaceUri, run: databricksRunId },
      wait: () => followRun({ ...control, api, databricksRunId }),
    }
  },
  async alive(record, env) {
    if (record.backend !== "databricks") return false
    return !isTerminal(await getRun(await workspaceApi(record.workspace, env), record.run))
  },
  async stop(record, env, graceMs) {
    if (record.backend !== "databricks") return
    const api = await workspaceApi(record.workspace, env)
    await cancelRun(api, record.run)
    // Bounded: cancel asks the service; the run reaches TERMINATED a little later.
    const deadline = Date.now() + graceMs + 30_000
    while (Date.now() < deadline && !isTerminal(await getRun(api, record.run))) await Bun.sleep(500)
  },
}

/** `mlproject logs` of a Databricks run: the task's output, once it has ended (the Jobs API has it only then); `follow` waits for that. */
export const databricksLogs = async (record: DatabricksRecord, env: Env, follow: boolean, line: (text: string) => void, signal: AbortSignal): Promise<void> => {
  const api = await workspaceApi(record.workspace, env)
  let run = await getRun(api, record.run, signal)
  for (let delay = 1000; follow && !isTerminal(run) && !signal.aborted; delay = Math.min(30_000, delay * 1.5)) {
    await Bun.sleep(delay)
    run = await getRun(api, record.run, signal)
  }
  if (!isTerminal(run)) {
    line(`(Databricks run ${record.run} is ${run.state?.life_cycle_state ?? "running"}: its output is available once it ends; see ${run.run_page_url ?? api.host})`)
    return
  }
  const output = await taskOutput(api, run, signal)
  if (output?.logs) for (const text of output.logs.replace(/\n$/, "").split("\n")) line(text)
  if (output?.error) line(output.error)
}
