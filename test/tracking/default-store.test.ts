// The default tracking store follows MLflow ≥ 3.7 (./mlruns when it holds experiments, else sqlite:///mlflow.db), end to end.
import { describe, expect, test } from "bun:test"
import { Database } from "bun:sqlite"
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { resolveTrackingUri } from "../../src/tracking/tracking-uri.ts"
import { binary, cli } from "../lib/cli.ts"
import { tmpdirFor } from "../lib/tmp.ts"

// The preload keeps ./mlruns for other tests; these unset it to see the default itself.
const noUri = { MLFLOW_TRACKING_URI: undefined }

const project = (dir: string, command = "echo \"$MLFLOW_TRACKING_URI|${{MLFLOW_ALLOW_FILE_STORE:-unset}}\"") =>
  writeFileSync(join(dir, "MLproject"), `name: p\nentry_points:\n  main:\n    parameters:\n      alpha: {type: float, default: 0.5}\n    command: '${command}'\n`)

const logLines = (events: Array<Record<string, unknown>>) => events.filter((e) => e.type === "log").map((e) => e.line)

describe("resolveTrackingUri: MLflow 3.7's default, local stores made absolute", () => {
  test.each([
    ["nothing set, no mlruns", {}, null, "sqlite:////W/mlflow.db"],
    ["nothing set, mlruns holds experiment 0", {}, "0/meta.yaml", "file:///W/mlruns"],
    ["nothing set, mlruns without an experiment", {}, "notes/meta.yaml", "sqlite:////W/mlflow.db"],
    ["a relative sqlite file", { MLFLOW_TRACKING_URI: "sqlite:///sub/t.db" }, null, "sqlite:////W/sub/t.db"],
    ["an absolute sqlite file stays", { MLFLOW_TRACKING_URI: "sqlite:////elsewhere/t.db" }, null, "sqlite:////elsewhere/t.db"],
    ["a driver suffix and a query are kept", { MLFLOW_TRACKING_URI: "sqlite+pysqlite:///t.db?timeout=5" }, null, "sqlite+pysqlite:////W/t.db?timeout=5"],
    ["a server URI is unchanged", { MLFLOW_TRACKING_URI: "postgresql+psycopg2://u:p@h/db" }, null, "postgresql+psycopg2://u:p@h/db"],
  ])("%s", async (_, env, mlrunsFile, expected) => {
    await using dir = tmpdirFor()
    if (mlrunsFile) dir.write(join("mlruns", mlrunsFile), "x")
    expect(resolveTrackingUri(env, dir.path)).toBe(expected.replace("/W", dir.path))
  })
})

describe("the default store through the binary", () => {
  test("a fresh folder records into ./mlflow.db; the entry point gets the same absolute URI and no file-store switch", async () => {
    await using dir = tmpdirFor()
    project(dir.path)
    const result = await cli(["run", ".", "-P", "alpha=0.7", "--json"], { cwd: dir.path, env: noUri })
    expect(result.code).toBe(0)
    expect(logLines(result.events)).toEqual([`sqlite:///${dir.path}/mlflow.db|unset`])
    expect(existsSync(join(dir.path, "mlruns", "0", "meta.yaml"))).toBe(false)
    const db = new Database(join(dir.path, "mlflow.db"), { readonly: true })
    const runs = db.query("SELECT status, name FROM runs").all() as Array<{ status: string }>
    expect(runs).toHaveLength(1)
    expect(runs[0]?.status).toBe("FINISHED")
    expect(db.query("SELECT value FROM params WHERE key = 'alpha'").get()).toEqual({ value: "0.7" })
    db.close()
    const human = await cli(["run", "."], { cwd: dir.path, env: noUri })
    expect(human.stderr).toContain(`recorded in sqlite database ${dir.path}/mlflow.db (experiment 0)`)
    // runs list and runs show read the same default.
    const listed = await cli(["runs", "list", "--json"], { cwd: dir.path, env: noUri })
    expect(listed.events.filter((e) => e.type === "run.listed")).toHaveLength(2)
  })

  test("an mlruns folder that holds experiments keeps the file store, and children get MLFLOW_ALLOW_FILE_STORE", async () => {
    await using dir = tmpdirFor()
    project(dir.path)
    expect((await cli(["run", "."], { cwd: dir.path, env: { MLFLOW_TRACKING_URI: "./mlruns" } })).code).toBe(0)
    const result = await cli(["run", ".", "--json"], { cwd: dir.path, env: noUri })
    expect(result.code).toBe(0)
    expect(logLines(result.events)).toEqual([`file://${dir.path}/mlruns|true`])
    expect(existsSync(join(dir.path, "mlflow.db"))).toBe(false)
  })

  test("runs show and runs list in a folder with no store say so and create no database", async () => {
    await using dir = tmpdirFor()
    for (const args of [["runs", "show", "a".repeat(32)], ["runs", "list"]]) {
      const result = await cli([...args, "--json"], { cwd: dir.path, env: noUri })
      expect(result.code).toBe(2)
      expect(String(result.events.find((e) => e.type === "error")?.message)).toContain(`no tracking store at ${dir.path}/mlflow.db`)
    }
    expect(existsSync(join(dir.path, "mlflow.db"))).toBe(false)
  })

  test("the help says which store is the default", async () => {
    const help = await cli(["run", "--help"])
    expect(help.stdout).toContain("./mlruns if it holds experiments, else sqlite:///mlflow.db")
  })
})

describe("bad database input: named, exit 2, nothing half-written", () => {
  test.each([
    ["a malformed URI", "postgresql://user:s3cr3tpw@/nodb", "tracking.uri.invalid", /names no host/],
    ["no database name", "mysql://user:s3cr3tpw@127.0.0.1:3306", "tracking.uri.invalid", /names no database/],
    ["a bad port", "postgresql://user:s3cr3tpw@127.0.0.1:99999/db", "tracking.uri.invalid", /port '99999'/],
    ["an in-memory sqlite", "sqlite://", "tracking.uri.invalid", /in-memory/],
    ["SQL Server", "mssql+pyodbc://user:s3cr3tpw@h/db", "tracking.unsupported", /Microsoft SQL Server/],
  ])("%s", async (_, uri, code, message) => {
    await using dir = tmpdirFor()
    project(dir.path)
    const result = await cli(["run", ".", "--json"], { cwd: dir.path, env: { MLFLOW_TRACKING_URI: uri } })
    expect(result.code).toBe(2)
    const error = result.events.find((e) => e.type === "error")
    expect(error).toMatchObject({ code })
    expect(String(error?.message)).toMatch(message)
    expect(result.stdout + result.stderr).not.toContain("s3cr3tpw")
  })

  test("a file that is not a database, a read-only database, a database of foreign tables, an unknown revision", async () => {
    await using dir = tmpdirFor()
    project(dir.path)
    const run = (file: string) => cli(["run", ".", "--json"], { cwd: dir.path, env: { MLFLOW_TRACKING_URI: `sqlite:///${file}` } })
    const errorOf = (result: Awaited<ReturnType<typeof run>>) => result.events.find((e) => e.type === "error") as Record<string, unknown> | undefined

    writeFileSync(join(dir.path, "notes.db"), "these are my notes, not a database; ".repeat(40))
    const notDb = await run("notes.db")
    expect(notDb.code).toBe(2)
    expect(errorOf(notDb)).toMatchObject({ code: "tracking.db.invalid" })
    expect(String(errorOf(notDb)?.message)).toContain(join(dir.path, "notes.db"))

    const foreign = new Database(join(dir.path, "other.db"))
    foreign.run("CREATE TABLE invoices (id INTEGER)")
    foreign.close()
    const other = await run("other.db")
    expect(other.code).toBe(2)
    expect(String(errorOf(other)?.message)).toMatch(/holds tables \(invoices\) but no MLflow schema/)

    // An MLflow database from the future: its revision is named, nothing is written.
    expect((await run("made.db")).code).toBe(0)
    const made = new Database(join(dir.path, "made.db"))
    made.run("UPDATE alembic_version SET version_num = 'ffffeeee0000'")
    const before = (made.query("SELECT COUNT(*) AS n FROM runs").get() as { n: number }).n
    made.close()
    const future = await run("made.db")
    expect(future.code).toBe(2)
    expect(errorOf(future)).toMatchObject({ code: "tracking.db.revision" })
    expect(String(errorOf(future)?.message)).toMatch(/revision ffffeeee0000.*MLflow 2\.8 to 3\.12/)
    const after = new Database(join(dir.path, "made.db"), { readonly: true })
    expect((after.query("SELECT COUNT(*) AS n FROM runs").get() as { n: number }).n).toBe(before)
    after.close()

    // Read-only: refused with the reason, before any run exists. As root file modes mean nothing, so the binary runs
    // as nobody then (setpriv), with a home of its own.
    mkdirSync(join(dir.path, "ro"))
    expect((await run("ro/t.db")).code).toBe(0)
    chmodSync(join(dir.path, "ro", "t.db"), 0o444)
    chmodSync(join(dir.path, "ro"), 0o555)
    chmodSync(dir.path, 0o755)
    const home = join(dir.path, "home")
    mkdirSync(home, { mode: 0o777 })
    chmodSync(home, 0o777)
    const asNobody = process.getuid?.() === 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"] : []
    const child = Bun.spawnSync([...asNobody, binary, "run", ".", "--json"], {
      cwd: dir.path,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, MLPROJECT_HOME: join(home, "mlproject"), MLFLOW_TRACKING_URI: "sqlite:///ro/t.db" },
    })
    const events = child.stdout.toString().split("\n").filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(child.exitCode).toBe(2)
    const refused = events.find((e) => e.type === "error")
    expect(["tracking.db.read_only", "tracking.db.open"]).toContain(String(refused?.code))
    expect(String(refused?.message)).toContain(join(dir.path, "ro", "t.db"))
    expect(events.some((e) => e.type === "run.created")).toBe(false)
    chmodSync(join(dir.path, "ro"), 0o755)
  })
})
