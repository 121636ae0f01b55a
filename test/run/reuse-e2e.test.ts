// `run --reuse` through the binary: a FINISHED run with the same key is reported and nothing runs; any change is a miss.
import { describe, expect, test } from "bun:test"
import { join } from "node:path"
import { cli, type CliResult } from "../lib/cli.ts"
import { readRun, runIds } from "../lib/mlruns.ts"
import { objectServer } from "../lib/object-server.ts"
import { tmpdirFor, type TmpDir } from "../lib/tmp.ts"

const setup = (dir: TmpDir) => {
  dir.write("project/MLproject", "name: reuse\nentry_points:\n  main:\n    parameters:\n      alpha: {type: float, default: 0.5}\n      data: {type: path, default: data.csv}\n    command: \"cat {data}; echo alpha={alpha}\"\n  fails:\n    command: \"exit 3\"\n")
  dir.write("project/data.csv", "x,y\n1,2\n")
}

// Run from inside the project: MLflow reads a relative `path` value from the current folder. ./mlruns is not content.
const run = (dir: TmpDir, args: string[] = []) => cli(["run", ".", "--reuse", "--json", ...args], { cwd: join(dir.path, "project"), env: { MLPROJECT_HOME: join(dir.path, "home") } })
const count = (dir: TmpDir) => runIds(join(dir.path, "project", "mlruns"), "0").length
const last = (result: CliResult) => result.events.at(-1) as Record<string, unknown>

describe("run --reuse", () => {
  test("the second identical run is the first: run.reused names it, nothing runs, nothing is recorded", async () => {
    await using dir = tmpdirFor()
    setup(dir)
    const first = await run(dir)
    expect(first.code).toBe(0)
    const firstId = last(first).run_id as string
    const key = readRun(join(dir.path, "project", "mlruns"), "0", firstId).tags["mlproject.run_key"]
    expect(key).toMatch(/^[0-9a-f]{64}$/)
    const second = await run(dir)
    expect(second.code).toBe(0)
    expect(last(second)).toMatchObject({ type: "run.reused", run_id: firstId, experiment_id: "0", run_key: key })
    expect(second.events.some((e) => e.type === "run.created" || e.type === "log")).toBe(false)
    expect(count(dir)).toBe(1)
  })

  test.each([
    ["a changed parameter", (_: TmpDir) => ["-P", "alpha=0.6"]],
    ["a changed file of the project", (dir: TmpDir) => (dir.write("project/train.py", "print(1)\n"), [])],
    ["a changed input file (a path parameter)", (dir: TmpDir) => (dir.write("project/data.csv", "x,y\n1,3\n"), [])],
    ["a changed environment file", (dir: TmpDir) => (dir.write("project/python_env.yaml", "dependencies: [a]\n"), ["--env-manager", "local"])],
  ])("%s is a miss: the run runs and is recorded", async (_, change) => {
    await using dir = tmpdirFor()
    setup(dir)
    expect((await run(dir, ["--env-manager", "local"])).code).toBe(0)
    const again = await run(dir, ["--env-manager", "local", ...change(dir)])
    expect(last(again)).toMatchObject({ type: "run.finished", status: "FINISHED" })
    expect(count(dir)).toBe(2)
  })

  test("the defaults written out with -P are the same run: a hit", async () => {
    await using dir = tmpdirFor()
    setup(dir)
    expect((await run(dir)).code).toBe(0)
    expect(last(await run(dir, ["-e", "main", "-P", "alpha=0.5", "-P", "data=data.csv"])).type).toBe("run.reused")
  })

  test("a touched but unchanged file is still a hit", async () => {
    await using dir = tmpdirFor()
    setup(dir)
    expect((await run(dir)).code).toBe(0)
    Bun.spawnSync(["touch", join(dir.path, "project", "data.csv")])
    expect(last(await run(dir)).type).toBe("run.reused")
  })

  test("FAILED runs are never reused; without --reuse every run runs", async () => {
    await using dir = tmpdirFor()
    setup(dir)
    expect((await run(dir, ["-e", "fails"])).code).toBe(1)
    expect((await run(dir, ["-e", "fails"])).code).toBe(1)
    expect(count(dir)).toBe(2)
    const plain = () => cli(["run", ".", "--json"], { cwd: join(dir.path, "project"), env: { MLPROJECT_HOME: join(dir.path, "home") } })
    expect((await plain()).code).toBe(0)
    expect((await plain()).code).toBe(0)
    expect(count(dir)).toBe(4)
  })

  test("a remote path input with a new version is a miss, the same version a hit", async () => {
    await using dir = tmpdirFor()
    setup(dir)
    await using server = objectServer({ "/data.csv": new TextEncoder().encode("x,y\n1,2\n") })
    const remote = ["-P", `data=${server.url}/data.csv`]
    expect((await run(dir, remote)).code).toBe(0)
    expect(last(await run(dir, remote)).type).toBe("run.reused")
    server.put("/data.csv", new TextEncoder().encode("x,y\n9,9\n"))
    const changed = await run(dir, [...remote, "--no-cache"])
    expect(last(changed)).toMatchObject({ type: "run.finished", status: "FINISHED" })
  })
})
