// A tracking server that trickles or answers without end, through the compiled binary: clear errors, bounded memory.
import { describe, expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import { cli, requireBinary } from "../lib/cli.ts"
import { endless, patientServer, trickle } from "../lib/stall.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const runId = "0123456789abcdef0123456789abcdef"

/** The peak resident memory (bytes) of a process while it runs, sampled every 10 ms from /proc; it is killed past `ceiling`. */
const watchMemory = (pid: number, ceiling: number, kill: () => void) => {
  let peak = 0
  const timer = setInterval(() => {
    try {
      const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0)
      peak = Math.max(peak, kb * 1024)
      if (peak > ceiling) kill()
    } catch {
      // Exited.
    }
  }, 10)
  return { stop: () => (clearInterval(timer), peak) }
}

describe("a tracking server's answer", () => {
  test("trickled a byte a second: the low-speed rule ends it, the error names the server, the limit and the variable", async () => {
    await using dir = tmpdirFor()
    await using server = patientServer(() => new Response(trickle(`{"experiment": {"experiment_id": "0", "name": "Default"}}`, 1000)))
    dir.write("p/MLproject", "entry_points:\n  main:\n    command: echo hi\n")
    const started = performance.now()
    const run = await cli(["run", "p", "--json"], {
      cwd: dir.path,
      env: { MLFLOW_TRACKING_URI: server.url, MLFLOW_HTTP_REQUEST_MAX_RETRIES: "0", MLPROJECT_HTTP_LOW_SPEED_TIME: "2" },
    })
    expect(run.code).toBe(1)
    // MLflow's own timeout (120 s) and our idle timeout (60 s) never fire: the trickle keeps both alive.
    expect(performance.now() - started).toBeLessThan(6000)
    const error = run.events.find((e) => e.type === "error") as Record<string, string>
    expect(error.code).toBe("tracking.unreachable")
    expect(error.message).toContain(`MLflow tracking server ${server.url}: GET /api/2.0/mlflow/experiments/get?experiment_id=0 failed after 1 attempt`)
    expect(error.message).toMatch(/less than 1024 bytes\/s for 2 s/)
    expect(error.hint).toContain("MLPROJECT_HTTP_LOW_SPEED_LIMIT")
  })

  test("without end and without a length: stopped at MLPROJECT_HTTP_MAX_RESPONSE_BYTES, not read into memory for ever", async () => {
    const counter = { sent: 0 }
    await using server = patientServer(() => new Response(endless(64 * 1024, counter)))
    const run = await cli(["log", "metric", "loss", "1", "--json"], {
      env: { MLFLOW_TRACKING_URI: server.url, MLFLOW_RUN_ID: runId, MLPROJECT_HTTP_MAX_RESPONSE_BYTES: "1048576" },
    })
    expect(run.code).toBe(1)
    const error = run.events.find((e) => e.type === "error") as Record<string, string>
    expect(error.code).toBe("http.too_large")
    expect(error.message).toBe(`POST ${server.url}/api/2.0/mlflow/runs/log-metric: the answer is more than 1 MiB`)
    expect(error.hint).toContain("MLPROJECT_HTTP_MAX_RESPONSE_BYTES")
    expect(counter.sent).toBeLessThan(32 * 1024 ** 2)
  })

  test("without end, at full speed, with the default limit: memory stays bounded and the command ends", async () => {
    await using server = patientServer(() => new Response(endless(256 * 1024)))
    const env = Object.fromEntries(
      Object.entries({ ...process.env, MLFLOW_TRACKING_URI: server.url, MLFLOW_RUN_ID: runId }).filter((e): e is [string, string] => e[1] !== undefined),
    )
    const child = Bun.spawn([requireBinary(), "log", "metric", "loss", "1", "--json"], { env, stdout: "pipe", stderr: "pipe" })
    const memory = watchMemory(child.pid, 400 * 1024 ** 2, () => child.kill("SIGKILL"))
    const [stdout, code] = await Promise.all([new Response(child.stdout).text(), child.exited])
    const peak = memory.stop()
    expect(code).toBe(1)
    expect(JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}")).toMatchObject({ type: "error", code: "http.too_large", message: expect.stringContaining("more than 64 MiB") })
    // The 64 MiB answer held as text, plus the runtime: far from the ceiling, and nowhere near unbounded.
    expect(peak).toBeLessThan(400 * 1024 ** 2)
  })
})
