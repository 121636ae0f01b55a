// `-c '{}'` on the local backend, as MLflow takes it, and `--run-id` with params that differ from the run's logged ones.
import { describe, expect, test } from "bun:test"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { cli } from "../lib/cli.ts"
import { readRun } from "../lib/mlruns.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const project = "name: resume\nentry_points:\n  main:\n    parameters:\n      alpha: {type: float, default: 0.5}\n      word: {type: string, default: hi}\n    command: 'echo {alpha} {word}'\n"

describe("--backend-config on the local backend", () => {
  test.each([["inline {}", ["-c", "{}"]], ["a .json file holding {}", ["-c", "empty.json"]], ["{ } with spaces", ["--backend-config", " { } "]]])(
    "%s is accepted and the run is recorded",
    async (_, flags) => {
      await using dir = tmpdirFor()
      dir.write("p/MLproject", project)
      dir.write("empty.json", "{}\n")
      const result = await cli(["run", "p", ...flags, "--json"], { cwd: dir.path })
      expect(result.code, result.stdout).toBe(0)
      const done = result.events.at(-1) as Record<string, unknown>
      expect(done).toMatchObject({ type: "run.finished", status: "FINISHED" })
      expect(readRun(join(dir.path, "mlruns"), "0", done.run_id as string).tags["mlflow.project.backend"]).toBe("local")
    },
  )

  test.each([
    ["a non-empty object", ["-c", '{"USE_CONDA": false}'], "unsupported", "a non-empty --backend-config is not supported yet"],
    ["a non-empty file", ["-c", "full.json"], "unsupported", "a non-empty --backend-config is not supported yet"],
    ["not JSON", ["-c", "{nope"], "usage", "Invalid backend config JSON. Parse error:"],
    ["a missing .json file", ["-c", "missing.json"], "usage", "--backend-config missing.json: cannot read the file (ENOENT)"],
  ])("%s is refused with exit 2 and nothing recorded", async (_, flags, code, message) => {
    await using dir = tmpdirFor()
    dir.write("p/MLproject", project)
    dir.write("full.json", '{"num_workers": 2}')
    const result = await cli(["run", "p", ...flags, "--json"], { cwd: dir.path })
    expect(result.code).toBe(2)
    expect(result.events.at(-1)).toMatchObject({ type: "error", code, message: expect.stringContaining(message) })
    expect(existsSync(join(dir.path, "mlruns"))).toBe(false)
  })
})

describe("--run-id with params that differ from the run's", () => {
  test("a warning names each differing param with both values; the run keeps what it logged", async () => {
    await using dir = tmpdirFor()
    dir.write("p/MLproject", project)
    const first = await cli(["run", "p", "-P", "alpha=0.1", "--json"], { cwd: dir.path })
    expect(first.code).toBe(0)
    const runId = (first.events.at(-1) as Record<string, string>).run_id as string

    const again = await cli(["run", "p", "--run-id", runId, "-P", "alpha=0.2", "-P", "word=hi", "--json"], { cwd: dir.path })
    expect(again.code, again.stdout).toBe(0)
    const warnings = again.events.filter((e) => e.type === "warning")
    expect(warnings).toEqual([
      expect.objectContaining({
        code: "run.params_differ",
        message: `run ${runId} keeps the params it logged, which differ from this run's: alpha (logged "0.1", now "0.2")`,
      }),
    ])
    // The entry point gets the new value; the store still holds the logged one (nothing was re-logged).
    expect(again.events.filter((e) => e.type === "log").map((e) => e.line)).toEqual(["0.2 hi"])
    expect(readRun(join(dir.path, "mlruns"), "0", runId).params).toEqual({ alpha: "0.1", word: "hi" })

    // A default that differs from the logged value counts too, and says so.
    const defaults = await cli(["run", "p", "--run-id", runId, "--json"], { cwd: dir.path })
    expect(defaults.events.find((e) => e.type === "warning")).toMatchObject({ code: "run.params_differ", message: expect.stringContaining('alpha (logged "0.1", now "0.5" by default)') })
  })

  test("the same values continue without a warning; the text view shows a differing one on stderr", async () => {
    await using dir = tmpdirFor()
    dir.write("p/MLproject", project)
    const first = await cli(["run", "p", "-P", "alpha=0.1", "--json"], { cwd: dir.path })
    const runId = (first.events.at(-1) as Record<string, string>).run_id as string
    const same = await cli(["run", "p", "--run-id", runId, "-P", "alpha=0.1", "--json"], { cwd: dir.path })
    expect(same.code).toBe(0)
    expect(same.events.filter((e) => e.type === "warning")).toEqual([])
    // The text view shows the warning on stderr.
    const text = await cli(["run", "p", "--run-id", runId, "-P", "alpha=0.3"], { cwd: dir.path })
    expect(text.stderr).toContain(`warning: run ${runId} keeps the params it logged, which differ from this run's: alpha (logged "0.1", now "0.3")`)
  })
})
