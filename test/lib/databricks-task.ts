// A submitted task's driver process: the environment a Databricks driver gives it, its own process group, captured output.
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"

/** get-output keeps the last 5 MB of a task's output, as the service does. */
const logCap = 5 * 1024 * 1024
const stderrCap = 64 * 1024

export type TaskProcess = {
  pid: number
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>
  /** stdout and stderr interleaved as they arrived, the last 5 MB. */
  logs(): { text: string; truncated: boolean }
  stderr(): string
  /** SIGTERM to the process group, SIGKILL after `graceMs` if anything of it is still alive. */
  stop(graceMs?: number): Promise<void>
}

export type DriverContext = { apiUrl: string; apiToken: string; clusterId: string; workspaceId: string; jobId: number; runId: number; taskRunId: number }

const py = (value: string | number) => JSON.stringify(String(value))

/**
 * The module MLflow's databricks_utils reads on a driver (`from dbruntime.databricks_repl_context import get_context`),
 * written into `dir`, which goes on PYTHONPATH.
 */
export const writeReplContext = (dir: string, context: DriverContext) => {
  mkdirSync(join(dir, "dbruntime"), { recursive: true })
  writeFileSync(join(dir, "dbruntime", "__init__.py"), "")
  writeFileSync(
    join(dir, "dbruntime", "databricks_repl_context.py"),
    [
      "# Written by the loopback workspace of mlproject's tests, in the place of the Databricks runtime's module.",
      "class _Context:",
      `    apiUrl = ${py(context.apiUrl)}`,
      `    apiToken = ${py(context.apiToken)}`,
      `    browserHostName = ${py(new URL(context.apiUrl).host)}`,
      `    clusterId = ${py(context.clusterId)}`,
      `    workspaceId = ${py(context.workspaceId)}`,
      `    jobId = ${py(context.jobId)}`,
      `    idInJob = ${py(context.taskRunId)}`,
      `    jobRunId = ${py(context.runId)}`,
      `    jobTaskType = "spark_python_task"`,
      "    isInCluster = True",
      "    isInJob = True",
      "    def __getattr__(self, name):",
      "        return None",
      "",
      "def get_context():",
      "    return _Context()",
      "",
    ].join("\n"),
  )
}

const pump = async (stream: ReadableStream<Uint8Array>, sink: (text: string) => void) => {
  const decoder = new TextDecoder()
  for await (const chunk of stream) sink(decoder.decode(chunk, { stream: true }))
  sink(decoder.decode())
}

const alive = (pid: number) => {
  try {
    process.kill(-pid, 0)
    return true
  } catch {
    return false
  }
}

/** Starts `argv` in a new process group in `cwd` with exactly `env`; output is captured, never inherited. */
export const startTask = (argv: string[], cwd: string, env: Record<string, string>): TaskProcess => {
  const child = Bun.spawn(argv, { cwd, env, stdin: "ignore", stdout: "pipe", stderr: "pipe", detached: true })
  let logs = ""
  let truncated = false
  let stderr = ""
  const append = (text: string) => {
    logs += text
    if (logs.length > logCap) {
      logs = logs.slice(logs.length - logCap)
      truncated = true
    }
  }
  const streams = Promise.all([
    pump(child.stdout, append),
    pump(child.stderr, (text) => {
      append(text)
      stderr = (stderr + text).slice(-stderrCap)
    }),
  ])
  const exited = child.exited.then(async (code) => {
    // A grandchild holding the pipes open must not hold the run in RUNNING.
    await Promise.race([streams.catch(() => {}), Bun.sleep(1000)])
    return child.signalCode ? null : code
  })
  return {
    pid: child.pid,
    exited,
    logs: () => ({ text: logs, truncated }),
    stderr: () => stderr,
    async stop(graceMs = 2000) {
      if (!alive(child.pid)) return
      process.kill(-child.pid, "SIGTERM")
      const gone = await Promise.race([exited.then(() => true), Bun.sleep(graceMs).then(() => false)])
      if (!gone || alive(child.pid)) {
        try {
          process.kill(-child.pid, "SIGKILL")
        } catch {
          // the group emptied between the check and the kill
        }
      }
      await exited
    },
  }
}
