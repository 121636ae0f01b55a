// Jobs API 2.1 and clusters of the loopback workspace: runs/submit, get, get-output, cancel, clusters/get; tasks really run.
import { existsSync, mkdirSync, rmSync } from "node:fs"
import { join } from "node:path"
import { driverFile, type Storage } from "./databricks-files.ts"
import { invalid, reply, type Json } from "./databricks-http.ts"
import { startTask, writeReplContext, type TaskProcess } from "./databricks-task.ts"

export type RunState = { life_cycle_state: string; result_state?: string; state_message: string; user_cancelled_or_timedout: boolean }

/** A submitted run (one task): what was sent, the life-cycle states it went through, its process and output. */
export type WorkspaceRun = {
  runId: number
  jobId: number
  taskRunId: number
  payload: Json
  task: Json
  clusterId: string
  state: RunState
  states: string[]
  startTime: number
  endTime: number
  /** The task's working folder, HOME and PYTHONPATH folder live under this. */
  dir: string
  process?: TaskProcess
  exitCode: number | null
  logs: string
  logsTruncated: boolean
  stderr: string
  /** Resolves when the run reaches TERMINATED, SKIPPED or INTERNAL_ERROR. */
  done: Promise<void>
}

export type JobsOptions = {
  url: () => string
  workspaceId: string
  storage: Storage
  runsDir: string
  clusters: Map<string, { state: string }>
  clusterStartMs: number
  python: string
  env: Record<string, string>
  grant(): string
  revoke(token: string): void
}

export type Jobs = { runs: Map<number, WorkspaceRun>; handle(endpoint: string, input: Json): Response | undefined; dispose(): Promise<void> }

const terminal = new Set(["TERMINATED", "SKIPPED", "INTERNAL_ERROR"])
const object = (value: unknown): Json | undefined => (value && typeof value === "object" && !Array.isArray(value) ? (value as Json) : undefined)

/** The checks runs/submit makes before it accepts a run, with the service's error code. */
const validate = (payload: Json, clusters: Map<string, unknown>): Json => {
  const tasks = payload.tasks
  if (!Array.isArray(tasks) || tasks.length === 0) throw invalid("Missing required field: tasks")
  if (tasks.length > 1) throw invalid("The loopback workspace runs one task per submitted run.")
  const task = object(tasks[0])
  if (!task) throw invalid("Each task must be an object.")
  if (typeof task.task_key !== "string" || !task.task_key) throw invalid("Missing required field: task_key")
  const cluster = object(task.new_cluster)
  const existing = task.existing_cluster_id
  if (cluster && existing !== undefined) throw invalid(`Task ${task.task_key} may specify only one of new_cluster and existing_cluster_id.`)
  if (!cluster && existing === undefined) throw invalid(`Task ${task.task_key} must specify one of new_cluster, existing_cluster_id.`)
  if (existing !== undefined && !clusters.has(String(existing))) throw invalid(`Cluster ${String(existing)} does not exist`)
  if (cluster) {
    if (!cluster.spark_version) throw invalid("Missing required field: new_cluster.spark_version")
    if (!cluster.node_type_id && !cluster.instance_pool_id) throw invalid("Missing required field: new_cluster.node_type_id")
    if (cluster.num_workers === undefined && !object(cluster.autoscale)) throw invalid("Missing required field: new_cluster.num_workers or new_cluster.autoscale")
  }
  const kinds = Object.keys(task).filter((key) => key.endsWith("_task"))
  if (kinds.length !== 1) throw invalid(`Task ${task.task_key} must specify exactly one task type; got ${kinds.join(", ") || "none"}.`)
  if (kinds[0] !== "spark_python_task") throw invalid(`Task type ${kinds[0]} is not supported by the loopback workspace; use spark_python_task.`)
  const python = object(task.spark_python_task)
  if (!python || typeof python.python_file !== "string" || !python.python_file) throw invalid("Missing required field: spark_python_task.python_file")
  if (python.parameters !== undefined && (!Array.isArray(python.parameters) || python.parameters.some((p) => typeof p !== "string"))) {
    throw invalid("spark_python_task.parameters must be an array of strings.")
  }
  if (payload.timeout_seconds !== undefined && !(Number.isInteger(payload.timeout_seconds) && Number(payload.timeout_seconds) >= 0)) {
    throw invalid(`Invalid timeout_seconds: ${String(payload.timeout_seconds)}`)
  }
  return task
}

const runIdOf = (input: Json): number => {
  const id = Number(input.run_id)
  if (input.run_id === undefined || input.run_id === "") throw invalid("Missing required field: run_id")
  if (!Number.isInteger(id)) throw invalid(`Invalid run_id: ${String(input.run_id)}`)
  return id
}

export const jobs = (options: JobsOptions): Jobs => {
  const runs = new Map<number, WorkspaceRun>()
  const byTask = new Map<number, WorkspaceRun>()
  const idempotent = new Map<string, number>()
  let nextId = 411_000 + Math.floor(Math.random() * 1000)
  let nextJob = 9_000 + Math.floor(Math.random() * 1000)

  const pageUrl = (run: WorkspaceRun, id = run.runId) => `${options.url()}/?o=${options.workspaceId}#job/${run.jobId}/run/${id}`
  const enter = (run: WorkspaceRun, state: RunState) => {
    run.state = state
    if (run.states.at(-1) !== state.life_cycle_state) run.states.push(state.life_cycle_state)
  }
  const taskJson = (run: WorkspaceRun) => ({
    run_id: run.taskRunId,
    task_key: run.task.task_key,
    state: run.state,
    spark_python_task: run.task.spark_python_task,
    ...(run.task.new_cluster ? { new_cluster: run.task.new_cluster } : { existing_cluster_id: run.task.existing_cluster_id }),
    ...(run.states.includes("RUNNING") ? { cluster_instance: { cluster_id: run.clusterId, spark_context_id: String(run.runId * 7919) } } : {}),
    start_time: run.startTime,
    end_time: run.endTime,
    attempt_number: 0,
    run_page_url: pageUrl(run, run.taskRunId),
  })
  const runJson = (run: WorkspaceRun) => ({
    job_id: run.jobId,
    run_id: run.runId,
    number_in_job: run.runId,
    original_attempt_run_id: run.runId,
    creator_user_name: "loopback@example.com",
    run_name: run.payload.run_name ?? "Untitled",
    run_page_url: pageUrl(run),
    run_type: "SUBMIT_RUN",
    format: "MULTI_TASK",
    state: run.state,
    tasks: [taskJson(run)],
    start_time: run.startTime,
    end_time: run.endTime,
    ...(run.states.includes("RUNNING") ? { cluster_instance: { cluster_id: run.clusterId, spark_context_id: String(run.runId * 7919) } } : {}),
  })

  const finish = (run: WorkspaceRun, life: string, result: string | undefined, message: string, userCancelledOrTimedout = false) => {
    if (terminal.has(run.state.life_cycle_state)) return
    enter(run, { life_cycle_state: life, ...(result ? { result_state: result } : {}), state_message: message, user_cancelled_or_timedout: userCancelledOrTimedout })
    run.endTime = Date.now()
    if (run.task.new_cluster) options.clusters.set(run.clusterId, { state: "TERMINATED" })
  }

  const execute = async (run: WorkspaceRun, stopped: { reason?: "CANCELED" | "TIMEDOUT" }, wake: Promise<void>) => {
    const existing = run.task.existing_cluster_id === undefined ? undefined : options.clusters.get(String(run.task.existing_cluster_id))
    const starting = !existing || existing.state !== "RUNNING"
    if (existing && starting) existing.state = "PENDING"
    if (!existing) options.clusters.set(run.clusterId, { state: "PENDING" })
    await Promise.race([Bun.sleep(starting ? options.clusterStartMs : 50), wake])
    if (stopped.reason) return finish(run, "TERMINATED", stopped.reason, stopped.reason === "CANCELED" ? "Run cancelled." : "Run timed out.", true)
    options.clusters.set(run.clusterId, { state: "RUNNING" })
    const python = object(run.task.spark_python_task) ?? {}
    const source = String(python.python_file)
    const file = driverFile(options.storage, source)
    if (!file || !existsSync(file)) return finish(run, "INTERNAL_ERROR", "FAILED", `Cannot read the python file ${source}. Please check driver logs for more details.`)
    const token = options.grant()
    const [cwd, home, pythonPath] = ["cwd", "home", "pythonpath"].map((name) => join(run.dir, name)) as [string, string, string]
    for (const dir of [cwd, home, pythonPath]) mkdirSync(dir, { recursive: true })
    writeReplContext(pythonPath, { apiUrl: options.url(), apiToken: token, clusterId: run.clusterId, workspaceId: options.workspaceId, jobId: run.jobId, runId: run.runId, taskRunId: run.taskRunId })
    const sparkEnv = Object.fromEntries(Object.entries(object(object(run.task.new_cluster)?.spark_env_vars) ?? {}).map(([k, v]) => [k, String(v)]))
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      ...options.env,
      HOME: home,
      DATABRICKS_RUNTIME_VERSION: "15.4",
      ...sparkEnv,
      MLPROJECT_DBFS_FUSE: options.storage.dbfsDir,
      MLPROJECT_VOLUMES_FUSE: options.storage.volumesDir,
      PYTHONPATH: [pythonPath, sparkEnv.PYTHONPATH].filter(Boolean).join(":"),
    }
    const task = startTask([options.python, file, ...((python.parameters as string[] | undefined) ?? [])], cwd, env)
    run.process = task
    enter(run, { life_cycle_state: "RUNNING", state_message: "In run", user_cancelled_or_timedout: false })
    const code = await task.exited
    options.revoke(token)
    const logs = task.logs()
    Object.assign(run, { exitCode: code, logs: logs.text, logsTruncated: logs.truncated, stderr: task.stderr() })
    if (stopped.reason) return finish(run, "TERMINATED", stopped.reason, stopped.reason === "CANCELED" ? "Run cancelled." : "Run timed out.", true)
    if (code === 0) return finish(run, "TERMINATED", "SUCCESS", "")
    finish(run, "TERMINATED", "FAILED", "Workload failed, see run output for details")
  }

  const stops = new Map<number, (reason: "CANCELED" | "TIMEDOUT") => Promise<void>>()

  const submit = (payload: Json): Response => {
    const token = typeof payload.idempotency_token === "string" ? payload.idempotency_token : undefined
    const seen = token === undefined ? undefined : idempotent.get(token)
    if (seen !== undefined) return reply({ run_id: seen })
    const task = validate(payload, options.clusters)
    const runId = nextId++
    const taskRunId = nextId++ + 500
    const clusterId = task.existing_cluster_id !== undefined ? String(task.existing_cluster_id) : `1203-${String(runId).padStart(6, "0")}-job${runId % 1000}`
    const dir = join(options.runsDir, String(runId))
    let resolveDone = () => {}
    const run: WorkspaceRun = {
      runId,
      jobId: nextJob++,
      taskRunId,
      payload,
      task,
      clusterId,
      state: { life_cycle_state: "PENDING", state_message: "Waiting for cluster", user_cancelled_or_timedout: false },
      states: ["PENDING"],
      startTime: Date.now(),
      endTime: 0,
      dir,
      exitCode: null,
      logs: "",
      logsTruncated: false,
      stderr: "",
      done: new Promise<void>((resolve) => (resolveDone = resolve)),
    }
    runs.set(runId, run)
    byTask.set(taskRunId, run)
    if (token !== undefined) idempotent.set(token, runId)
    const stopped: { reason?: "CANCELED" | "TIMEDOUT" } = {}
    let wakeUp = () => {}
    const wake = new Promise<void>((resolve) => (wakeUp = resolve))
    const timeout = Number(payload.timeout_seconds ?? 0)
    const timer = timeout > 0 ? setTimeout(() => void stop("TIMEDOUT"), timeout * 1000) : undefined
    const stop = async (reason: "CANCELED" | "TIMEDOUT") => {
      if (terminal.has(run.state.life_cycle_state) || stopped.reason) return
      stopped.reason = reason
      enter(run, { ...run.state, life_cycle_state: "TERMINATING", state_message: reason === "CANCELED" ? "Cancelling run" : "Run timed out" })
      wakeUp()
      await run.process?.stop()
    }
    stops.set(runId, stop)
    void execute(run, stopped, wake)
      .catch((error: unknown) => finish(run, "INTERNAL_ERROR", "FAILED", `The loopback workspace failed to run the task: ${String(error)}`))
      .finally(() => {
        clearTimeout(timer)
        resolveDone()
      })
    return reply({ run_id: runId })
  }

  const find = (input: Json) => {
    const id = runIdOf(input)
    const run = runs.get(id) ?? byTask.get(id)
    if (!run) throw invalid(`Run ${id} does not exist.`)
    return { id, run, isTask: !runs.has(id) }
  }

  const endpoints: Record<string, (input: Json) => Response> = {
    "jobs/runs/submit": submit,
    "jobs/runs/get": (input) => {
      const { run, isTask } = find(input)
      return reply(isTask ? { ...taskJson(run), job_id: run.jobId, run_name: run.payload.run_name ?? "Untitled", run_type: "SUBMIT_RUN" } : runJson(run))
    },
    "jobs/runs/get-output": (input) => {
      const { run, isTask } = find(input)
      if (!isTask) {
        throw invalid("Retrieving the output of runs with multiple tasks is not supported. Please retrieve the output of each individual task run instead.")
      }
      const live = run.process && !terminal.has(run.state.life_cycle_state) ? run.process.logs() : { text: run.logs, truncated: run.logsTruncated }
      const failed = run.state.result_state === "FAILED"
      const lastLine = run.stderr.trimEnd().split("\n").at(-1) ?? ""
      const error = run.state.life_cycle_state === "INTERNAL_ERROR" ? run.state.state_message : lastLine
      return reply({
        metadata: { ...taskJson(run), job_id: run.jobId, run_name: run.payload.run_name ?? "Untitled" },
        logs: live.text,
        logs_truncated: live.truncated,
        ...(failed && error ? { error, error_trace: run.stderr } : {}),
      })
    },
    "jobs/runs/cancel": (input) => {
      const { run } = find(input)
      void stops.get(run.runId)?.("CANCELED")
      return reply({})
    },
    "clusters/get": (input) => {
      const id = String(input.cluster_id ?? "")
      if (!id) throw invalid("Missing required field: cluster_id")
      const cluster = options.clusters.get(id)
      if (!cluster) throw invalid(`Cluster ${id} does not exist`)
      return reply({ cluster_id: id, cluster_name: `cluster ${id}`, spark_version: "15.4.x-scala2.12", state: cluster.state, state_message: "" })
    },
  }

  return {
    runs,
    handle: (endpoint, input) => endpoints[endpoint]?.(input),
    async dispose() {
      await Promise.all([...runs.values()].map((run) => run.process?.stop(200)))
      for (const run of runs.values()) rmSync(run.dir, { recursive: true, force: true })
    },
  }
}

export const methodOf: Record<string, string> = {
  "jobs/runs/submit": "POST",
  "jobs/runs/cancel": "POST",
  "jobs/runs/get": "GET",
  "jobs/runs/get-output": "GET",
  "clusters/get": "GET",
}
