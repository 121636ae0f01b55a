// `mlproject runs list` through the compiled binary: a real corpus mlruns folder, a loopback tracking server, bad input.
import { describe, expect, test } from "bun:test"
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { storeFor } from "../../src/tracking/store-for.ts"
import { pathToFileUri } from "../../src/tracking/tracking-uri.ts"
import { cli } from "../lib/cli.ts"
import { mlflowServer } from "../lib/mlflow-server.ts"
import { corpusDir, hasShared, sharedSkipReason } from "../lib/shared.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const fast = { MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: "0", MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: "0", MLFLOW_HTTP_REQUEST_TIMEOUT: "5" }

/** Corpus 24: 20 FINISHED runs of one experiment whose param and metric keys end in spaces (`rmse     `), as logged. */
const wine = hasShared ? join(corpusDir("mlruns"), "24__ZachWolpe__MLFlow-template-code", "mlruns") : ""
const rmseKey = "rmse     "
const alphaKey = "alpha     "

/** The corpus runs read straight from their files (not through our store): id, start time, alpha, latest rmse. */
const rawRuns = () =>
  readdirSync(join(wine, "0"))
    .filter((name) => /^[0-9a-f]{32}$/.test(name))
    .map((id) => {
      const dir = join(wine, "0", id)
      const lines = readFileSync(join(dir, "metrics", rmseKey), "utf8").trim().split("\n")
      return {
        id,
        start: Number(/start_time: (\d+)/.exec(readFileSync(join(dir, "meta.yaml"), "utf8"))?.[1]),
        alpha: readFileSync(join(dir, "params", alphaKey), "utf8"),
        rmse: Number((lines.at(-1) as string).split(" ")[1]),
      }
    })

const listedIds = (events: Array<{ type: string } & Record<string, unknown>>) => events.filter((e) => e.type === "run.listed").map((e) => e.run_id)

describe.skipIf(!hasShared)(`runs list on a corpus mlruns folder${hasShared ? "" : ` (${sharedSkipReason})`}`, () => {
  test("newest first by default; --order-by a metric, --max cuts and says more match", async () => {
    const all = await cli(["runs", "list", "--tracking-uri", wine, "--json"])
    expect(all.code).toBe(0)
    const raw = rawRuns()
    expect(listedIds(all.events)).toEqual([...raw].sort((a, b) => b.start - a.start).map((r) => r.id))
    expect(all.events.at(-1)).toMatchObject({ type: "runs.listed", experiment_ids: ["0"], count: 20, more: false, filter: null, unreadable: 0 })

    const best = await cli(["runs", "list", "--tracking-uri", wine, "--order-by", `metrics.\`${rmseKey}\``, "--max", "5", "--json"])
    expect(best.code).toBe(0)
    expect(listedIds(best.events)).toEqual([...raw].sort((a, b) => a.rmse - b.rmse).slice(0, 5).map((r) => r.id))
    expect(best.events.at(-1)).toMatchObject({ count: 5, more: true, order_by: [`metrics.\`${rmseKey}\``] })
    const first = best.events[0] as Record<string, unknown>
    expect(first).toMatchObject({ status: "FINISHED", experiment_id: "0", lifecycle_stage: "active", params: { [alphaKey]: expect.any(String) } })
    expect((first.metrics as Record<string, { value: number }>)[rmseKey]?.value).toBe(raw.reduce((m, r) => Math.min(m, r.rmse), Infinity))
  })

  test("--filter and --status select, several --order-by keys order with MLflow's ties", async () => {
    const raw = rawRuns()
    const result = await cli(
      ["runs", "list", "--tracking-uri", wine, "--filter", `params.\`${alphaKey}\` = '0.2' AND metrics.\`${rmseKey}\` < 0.8`, "--status", "finished", "--order-by", `params.\`${alphaKey}\` DESC`, "--order-by", "attributes.start_time", "--json"],
    )
    expect(result.code).toBe(0)
    const expected = raw.filter((r) => r.alpha === "0.2" && r.rmse < 0.8).sort((a, b) => a.start - b.start)
    expect(expected.length).toBeGreaterThan(1)
    expect(listedIds(result.events)).toEqual(expected.map((r) => r.id))
    expect(result.events.at(-1)).toMatchObject({ filter: `params.\`${alphaKey}\` = '0.2' AND metrics.\`${rmseKey}\` < 0.8 AND attributes.status = 'FINISHED'` })
    const none = await cli(["runs", "list", "--tracking-uri", wine, "--status", "KILLED", "--json"])
    expect(listedIds(none.events)).toEqual([])
  })

  test("the text view is one table: fixed columns, then the params and metrics that differ, named ones first", async () => {
    const result = await cli(["runs", "list", "--tracking-uri", wine, "--order-by", `metrics.\`${rmseKey}\` DESC`, "--max", "3"])
    expect(result.code).toBe(0)
    const [header, ...rows] = result.stdout.trimEnd().split("\n")
    expect(header).toMatch(/^RUN ID +NAME +STATUS +START \(UTC\) +DURATION +rmse +alpha +l1_ratio +mae +r2/)
    expect(rows).toHaveLength(3)
    expect(rows[0]).toMatch(/^[0-9a-f]{32}  [a-z]+-[a-z]+-\d+ +FINISHED +2022-12-2\d \d\d:\d\d +\d\.\d s +0\.\d+ /)
    expect(result.stderr).toContain("3 runs in experiment 0 (more match: raise --max)")
  })

  test("several experiments, deleted runs left out, an experiment named by name", async () => {
    const store = join(corpusDir("mlruns"), "05__DrunkTeam__ApartmentPrice", "mlruns")
    const result = await cli(["runs", "list", "--tracking-uri", store, "--experiment-id", "0", "--experiment-id", "355409890148782759", "--json"])
    expect(result.code).toBe(0)
    const listed = result.events.filter((e) => e.type === "run.listed")
    expect(listed.length).toBeGreaterThan(5)
    expect(listed.every((e) => e.lifecycle_stage === "active")).toBe(true)
    expect(new Set(listed.map((e) => e.experiment_id))).toEqual(new Set(["0"]))
    const named = await cli(["runs", "list", "--tracking-uri", store, "--experiment-name", "Default", "--json"])
    expect(listedIds(named.events)).toEqual(listedIds(result.events))
  })
})

describe("runs list: bad input exits 2 and says why", () => {
  test.each([
    [["--filter", "params.alpha = 0.5"], "tracking.filter.invalid", "column 16"],
    [["--filter", "metrics.rmse < 1 OR params.a = 'b'"], "tracking.filter.invalid", "AND only"],
    [["--order-by", "metrics.rmse DOWN"], "tracking.order_by.invalid", "ASC or DESC"],
    [["--max", "0"], "usage", "--max 0"],
    [["--max", "ten"], "usage", "--max ten"],
    [["--status", "DONE"], "usage", "--status DONE"],
    [["--experiment-name", "nope"], "experiment.not_found", "no active experiment named 'nope'"],
    [["--experiment-id", "4242"], "experiment.not_found", "experiment id '4242' does not exist"],
    [["extra"], "usage", "'runs list' takes options only"],
  ])("%j", async (args, code, message) => {
    await using dir = tmpdirFor()
    await storeFor(pathToFileUri(join(dir.path, "mlruns"))).getOrCreateExperiment("exists")
    const result = await cli(["runs", "list", ...args, "--json"], { cwd: dir.path })
    expect(result.code).toBe(2)
    expect(result.events.at(-1)).toMatchObject({ type: "error", code })
    expect(String(result.events.at(-1)?.message)).toContain(message)
  })

  test("a store that does not exist is not created by listing it; runs show refuses list options", async () => {
    await using dir = tmpdirFor()
    const result = await cli(["runs", "list", "--json"], { cwd: dir.path })
    expect(result.code).toBe(2)
    expect(result.events.at(-1)).toMatchObject({ type: "error", code: "experiment.not_found" })
    expect(readdirSync(dir.path)).toEqual([])
    const show = await cli(["runs", "show", "f".repeat(32), "--filter", "x", "--json"], { cwd: dir.path })
    expect(show.code).toBe(2)
    expect(show.events.at(-1)?.message).toContain("--filter applies to 'runs list'")
  })

  test("an unreadable run folder is left out with one warning, counted in the summary", async () => {
    await using dir = tmpdirFor()
    const uri = pathToFileUri(join(dir.path, "mlruns"))
    const store = storeFor(uri)
    const kept = await store.createRun({ experiment_id: "0", user_id: "ada", start_time: 1, run_name: "kept", tags: [] })
    const broken = await store.createRun({ experiment_id: "0", user_id: "ada", start_time: 2, run_name: "broken", tags: [] })
    writeFileSync(join(dir.path, "mlruns", "0", broken.run_id, "meta.yaml"), "experiment_id: '7'\n")
    const result = await cli(["runs", "list", "--json"], { cwd: dir.path })
    expect(result.code).toBe(0)
    expect(listedIds(result.events)).toEqual([kept.run_id])
    expect(result.events.find((e) => e.type === "warning")).toMatchObject({ code: "runs.unreadable" })
    expect(String(result.events.find((e) => e.type === "warning")?.message)).toContain(broken.run_id)
    expect(result.events.at(-1)).toMatchObject({ type: "runs.listed", unreadable: 1, count: 1 })
  })
})

describe("runs list against a tracking server", () => {
  test("filter, status, order and max go to runs/search; the answer is listed in the server's order", async () => {
    await using server = mlflowServer({ searchPageCap: 2 })
    const store = storeFor(server.url, fast)
    const { experiment_id } = await store.getOrCreateExperiment("sweep")
    const made: string[] = []
    for (const [i, alpha] of ["0.1", "0.5", "0.5", "0.9", "0.5"].entries()) {
      const info = await store.createRun({ experiment_id, user_id: "ada", start_time: 1000 + i, run_name: `run-${i}`, tags: [] })
      await store.logBatch(info.run_id, { params: [{ key: "alpha", value: alpha }], metrics: [{ key: "rmse", value: 1 - i / 10, timestamp: 1, step: 0 }] })
      await store.updateRun(info.run_id, { status: i === 4 ? "FAILED" : "FINISHED", end_time: 2000 + i })
      made.push(info.run_id)
    }
    const result = await cli(["runs", "list", "--tracking-uri", server.url, "--experiment-name", "sweep", "--filter", "params.alpha = '0.5'", "--status", "FINISHED", "--order-by", "metrics.rmse", "--max", "1", "--json"], { env: fast })
    expect(result.code).toBe(0)
    expect(listedIds(result.events)).toEqual([made[2]])
    expect(result.events.at(-1)).toMatchObject({ type: "runs.listed", tracking_uri: server.url, experiment_ids: [experiment_id], count: 1, more: true })
    const sent = server.calls("runs/search").at(-1)?.json
    expect(sent).toMatchObject({ experiment_ids: [experiment_id], filter: "params.alpha = '0.5' AND attributes.status = 'FINISHED'", order_by: ["metrics.rmse"], max_results: 2, run_view_type: "ACTIVE_ONLY" })
    const text = await cli(["runs", "list", "--tracking-uri", server.url, "--experiment-id", experiment_id], { env: fast })
    expect(text.code).toBe(0)
    expect(text.stdout.split("\n")[0]).toMatch(/^RUN ID .* alpha +rmse$/)
    expect(text.stdout).toContain("run-4")
    expect(text.stderr).toContain("5 runs in experiment")
  })
})
