// 50 runs at once into one mlruns, half creating the same new experiment: 50 complete runs, one experiment.
import { expect, test } from "bun:test"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { parse } from "yaml"
import { cli } from "../lib/cli.ts"
import { experiments, readRun, runIds } from "../lib/mlruns.ts"
import { tmpdirFor } from "../lib/tmp.ts"

test("50 concurrent runs produce 50 valid runs and exactly one new experiment", async () => {
  await using dir = tmpdirFor()
  dir.write("project/MLproject", "entry_points:\n  main:\n    parameters:\n      i: int\n    command: 'echo run {i}'\n")
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      cli(["run", "project", "-P", `i=${i}`, "--json", ...(i % 2 === 0 ? ["--experiment-name", "shared-sweep"] : [])], { cwd: dir.path }),
    ),
  )
  for (const result of results) expect(result.code, result.stderr).toBe(0)
  const mlruns = join(dir.path, "mlruns")
  const all = experiments(mlruns)
  const named = all.filter((e) => e.meta.name === "shared-sweep")
  expect(named).toHaveLength(1)
  expect(all.map((e) => e.meta.name).sort()).toEqual(["Default", "shared-sweep"])
  const sweepId = (named[0] as { id: string }).id
  expect(runIds(mlruns, sweepId)).toHaveLength(25)
  expect(runIds(mlruns, "0")).toHaveLength(25)
  const seen = new Set<string>()
  for (const experimentId of ["0", sweepId]) {
    for (const runId of runIds(mlruns, experimentId)) {
      const run = readRun(mlruns, experimentId, runId)
      expect(run.meta.status).toBe(3)
      expect(run.tags["mlflow.source.type"]).toBe("PROJECT")
      seen.add(run.params.i as string)
    }
    // Nothing half-written is left behind (temporary names are dot-prefixed).
    const leftovers = readdirSync(join(mlruns, experimentId)).filter((n) => n !== "meta.yaml" && !/^[0-9a-f]{32}$/.test(n))
    expect(leftovers).toEqual([])
    expect(parse(readFileSync(join(mlruns, experimentId, "meta.yaml"), "utf8"))).toHaveProperty("name")
  }
  expect(seen.size).toBe(50)
}, 120_000)
