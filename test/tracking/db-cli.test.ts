// run, log, runs show and runs list through the binary against sqlite, PostgreSQL and MariaDB; 50 concurrent runs; failures.
import { afterAll, describe, expect, test } from "bun:test"
import { Database } from "bun:sqlite"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { cli, binary } from "../lib/cli.ts"
import { mariadbSkipReason, postgresSkipReason, startMariadb, startPostgres } from "../lib/databases.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const [pg, maria] = await Promise.all([startPostgres(), startMariadb()])
afterAll(() => Promise.all([pg?.stop(), maria?.stop()]))

let counter = 0
const backends = [
  { name: "sqlite", skip: null, fresh: async (dir: string) => `sqlite:///${join(dir, `t${++counter}.db`)}` },
  { name: "postgresql", skip: pg ? null : postgresSkipReason, fresh: async () => pg!.newDatabase(`cli_${++counter}`) },
  { name: "mariadb", skip: maria ? null : mariadbSkipReason, fresh: async () => maria!.newDatabase(`cli_${++counter}`) },
]

/** An entry point that logs through the mlproject binary on its PATH, as a training script's shell step would. */
const loggingProject = (dir: string) =>
  writeFileSync(
    join(dir, "MLproject"),
    [
      "name: dbcli",
      "entry_points:",
      "  main:",
      "    parameters:",
      "      alpha: {type: float, default: 0.5}",
      "    command: 'mlproject log metric loss 0.25 --step 3 && mlproject log param extra yes && mlproject log tag stage db && echo hi > out.txt && mlproject log artifact out.txt'",
      "  quick:",
      "    command: 'true'",
    ].join("\n"),
  )

const eventOf = (events: Array<Record<string, unknown>>, type: string) => events.find((e) => e.type === type) as Record<string, unknown> | undefined

for (const backend of backends) {
  describe.skipIf(backend.skip !== null)(`${backend.name} through the binary${backend.skip ? ` (${backend.skip})` : ""}`, () => {
    test("run, log from the entry point, runs show, runs list: one run with everything, its artifact where the store says", async () => {
      await using dir = tmpdirFor()
      loggingProject(dir.path)
      const uri = await backend.fresh(dir.path)
      const env = { MLFLOW_TRACKING_URI: uri }
      const run = await cli(["run", ".", "-P", "alpha=0.7", "--experiment-name", "db-cli", "--json"], { cwd: dir.path, env })
      expect(run.code, run.stderr).toBe(0)
      const finished = eventOf(run.events, "run.finished")
      expect(finished).toMatchObject({ status: "FINISHED" })
      const runId = String(finished?.run_id)
      // No credential in any event.
      if (backend.name !== "sqlite") expect(run.stdout).not.toContain(backend.name === "postgresql" ? pg!.password : maria!.password)

      const shown = await cli(["runs", "show", runId, "--json"], { cwd: dir.path, env })
      expect(shown.code, shown.stderr).toBe(0)
      const info = eventOf(shown.events, "run.shown")
      expect(info).toMatchObject({ status: "FINISHED", params: { alpha: "0.7", extra: "yes" }, tags: { stage: "db", "mlflow.project.entryPoint": "main" } })
      expect((info?.metrics as Record<string, { value: number; step: number }>).loss).toMatchObject({ value: 0.25, step: 3 })
      // The artifact went to <cwd>/mlruns/<experiment>/<run>/artifacts, the run's artifact_uri.
      expect(String(info?.artifact_uri)).toBe(join(dir.path, "mlruns", String(info?.experiment_id), runId, "artifacts"))
      expect(existsSync(join(String(info?.artifact_uri), "out.txt"))).toBe(true)

      const second = await cli(["run", ".", "-e", "quick", "--experiment-name", "db-cli", "--json"], { cwd: dir.path, env })
      expect(second.code).toBe(0)
      const listed = await cli(["runs", "list", "--experiment-name", "db-cli", "--filter", "params.alpha = '0.7'", "--json"], { cwd: dir.path, env })
      expect(listed.code, listed.stderr).toBe(0)
      expect(listed.events.filter((e) => e.type === "run.listed").map((e) => e.run_id)).toEqual([runId])
      const all = await cli(["runs", "list", "--experiment-name", "db-cli", "--json"], { cwd: dir.path, env })
      expect(all.events.filter((e) => e.type === "run.listed")).toHaveLength(2)
    })
  })
}

describe.each([
  ["sqlite", null],
  ["postgresql", pg ? null : postgresSkipReason],
] as const)("50 concurrent runs into one %s database", (name, skip) => {
  test.skipIf(skip !== null)(`50 complete runs${skip ? ` (${skip})` : ""}`, async () => {
    await using dir = tmpdirFor()
    writeFileSync(join(dir.path, "MLproject"), "name: many\nentry_points:\n  main:\n    parameters:\n      i: {type: string}\n    command: 'mlproject log metric m {i}'\n")
    const uri = name === "sqlite" ? `sqlite:///${join(dir.path, "many.db")}` : await pg!.newDatabase(`many_${++counter}`)
    const env = { ...process.env, MLFLOW_TRACKING_URI: uri }
    // One database, created by whichever of the 50 gets there first.
    const children = Array.from({ length: 50 }, (_, i) =>
      Bun.spawn([binary, "run", ".", "-P", `i=${i}`, "--experiment-name", "many", "--json"], { cwd: dir.path, env, stdout: "pipe", stderr: "pipe" }),
    )
    const codes = await Promise.all(children.map((c) => c.exited))
    const stderrs = await Promise.all(children.map((c) => new Response(c.stderr).text()))
    expect(codes.filter((c) => c !== 0), stderrs.filter(Boolean).join("\n")).toEqual([])
    const listed = await cli(["runs", "list", "--experiment-name", "many", "--json"], { cwd: dir.path, env: { MLFLOW_TRACKING_URI: uri } })
    const runs = listed.events.filter((e) => e.type === "run.listed") as unknown as Array<{ status: string; params: Record<string, string>; metrics: Record<string, number> }>
    expect(runs).toHaveLength(50)
    expect(runs.every((r) => r.status === "FINISHED")).toBe(true)
    expect(new Set(runs.map((r) => r.params.i)).size).toBe(50)
    expect(runs.every((r) => Object.keys(r.metrics).includes("m"))).toBe(true)
  }, 120_000)
})

describe("server failures: named, bounded, no secret", () => {
  test("an unreachable server is retried, then exit 1 naming host and port", async () => {
    await using dir = tmpdirFor()
    loggingProject(dir.path)
    const port = 1 + Math.floor(Math.random() * 1000)
    const started = performance.now()
    const result = await cli(["run", ".", "-e", "quick", "--json"], {
      cwd: dir.path,
      env: { MLFLOW_TRACKING_URI: `postgresql://ada:Sup3rSecretPw@127.0.0.1:${port}/mlflow`, MLPROJECT_DB_RETRIES: "2" },
    })
    expect(result.code).toBe(1)
    const error = eventOf(result.events, "error")
    expect(error).toMatchObject({ code: "tracking.unreachable" })
    expect(String(error?.message)).toContain(`127.0.0.1:${port}`)
    expect(result.stdout + result.stderr).not.toContain("Sup3rSecretPw")
    // Two retries: 0.5 s + 1 s of backoff, not minutes.
    expect(performance.now() - started).toBeGreaterThan(1400)
    expect(performance.now() - started).toBeLessThan(15_000)
  })

  test.skipIf(!pg)(`wrong credentials: exit 2, the password never shown${pg ? "" : ` (${postgresSkipReason})`}`, async () => {
    await using dir = tmpdirFor()
    loggingProject(dir.path)
    for (const server of [pg, maria].filter((s) => s !== null)) {
      const wrong = server!.uri.replace(`:${server!.password}@`, ":Wr0ngPassw0rd@")
      const result = await cli(["run", ".", "-e", "quick", "--json"], { cwd: dir.path, env: { MLFLOW_TRACKING_URI: wrong } })
      expect(result.code).toBe(2)
      expect(eventOf(result.events, "error")).toMatchObject({ code: "tracking.db.auth" })
      expect(result.stdout + result.stderr).not.toContain("Wr0ngPassw0rd")
      expect(result.stdout + result.stderr).not.toContain(server!.password)
    }
  })
})

describe("a run killed mid-write leaves the database consistent", () => {
  test("SIGKILL while an entry point logs metrics as fast as it can: integrity holds, latest_metrics agrees with metrics", async () => {
    await using dir = tmpdirFor()
    writeFileSync(
      join(dir.path, "MLproject"),
      "name: kill\nentry_points:\n  main:\n    command: 'i=0; while true; do i=$((i+1)); mlproject log metric m $i --step $i; done'\n",
    )
    const file = join(dir.path, "k.db")
    // A session of its own (setsid -w, so the child we wait for lives as long as the run): the binary, the entry
    // point's group and every `log metric` die together, and nothing outside this test is touched.
    const child = Bun.spawn(["setsid", "-w", binary, "run", ".", "--json"], { cwd: dir.path, env: { ...process.env, MLFLOW_TRACKING_URI: `sqlite:///${file}` }, stdout: "pipe", stderr: "pipe" })
    const reader = child.stdout.getReader()
    let text = ""
    while (!text.includes('"run.started"')) {
      const { value, done } = await reader.read()
      if (done) throw new Error(`the run ended before it started: ${text}`)
      text += new TextDecoder().decode(value)
    }
    const started = JSON.parse(text.split("\n").find((line) => line.includes('"run.started"')) as string) as { pid: number }
    // The session of the entry point is the one setsid made.
    const sessionOf = (pid: number | string) => readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[3]!
    const session = sessionOf(started.pid)
    // Never our own session: killing that would kill the test runner.
    expect(session).not.toBe(sessionOf(process.pid))
    expect(Number(session)).toBeGreaterThan(1)
    const alive = () => Bun.spawnSync(["pgrep", "-s", session]).exitCode === 0
    try {
      for (let waited = 0; waited < 20_000; waited += 100) {
        await Bun.sleep(100)
        const db = new Database(file, { readonly: true })
        db.run("PRAGMA busy_timeout = 5000")
        // Until the first process commits the schema, the file exists without tables.
        const n = (() => {
          try {
            return (db.query("SELECT COUNT(*) AS n FROM metrics").get() as { n: number } | null)?.n ?? 0
          } catch {
            return 0
          }
        })()
        db.close()
        if (n >= 20) break
      }
      // Without warning, the whole session at once, in the middle of its writes.
      Bun.spawnSync(["pkill", "-KILL", "-s", session])
      for (let i = 0; i < 50 && alive(); i++) await Bun.sleep(100)
      expect(alive()).toBe(false)
    } finally {
      Bun.spawnSync(["pkill", "-KILL", "-s", session])
      reader.releaseLock()
      child.stdout.cancel().catch(() => undefined)
    }
    const db = new Database(file)
    db.run("PRAGMA busy_timeout = 5000")
    expect(db.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" })
    const latest = db.query("SELECT value, step FROM latest_metrics WHERE key = 'm'").get() as { value: number; step: number }
    const max = db.query("SELECT MAX(step) AS step FROM metrics WHERE key = 'm'").get() as { step: number }
    expect(latest.step).toBe(max.step)
    expect(latest.value).toBe(max.step)
    db.close()
  }, 60_000)
})
