// Store.searchRuns: the file store and the REST store (against the loopback server's own search) answer alike.
import { describe, expect, test } from "bun:test"
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { createFileStore } from "../../src/tracking/file-store.ts"
import { createRestStore } from "../../src/tracking/rest-store.ts"
import { restConfigFromUri } from "../../src/tracking/rest-config.ts"
import { parseQuery, selectRuns, viewOf } from "../../src/tracking/search-runs.ts"
import type { Run, RunStatus, SearchRunsInput, Store } from "../../src/tracking/types.ts"
import { mlflowServer, type MlflowServer, type ServerRun } from "../lib/mlflow-server.ts"
import { corpusDir, hasShared, sharedSkipReason } from "../lib/shared.ts"
import { tmpdirFor } from "../lib/tmp.ts"
import { queries, record } from "../lib/search-fixture.ts"

const fast = { MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: "0", MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: "0", MLFLOW_HTTP_REQUEST_TIMEOUT: "5", MLFLOW_HTTP_REQUEST_MAX_RETRIES: "0" }

const names = (runs: Run[]) => runs.map((r) => r.info.run_name)

const markFileRunDeleted = (root: string) => (runId: string, experimentId: string) => {
  const meta = join(root, experimentId, runId, "meta.yaml")
  writeFileSync(meta, readFileSync(meta, "utf8").replace("lifecycle_stage: active", "lifecycle_stage: deleted"))
}

describe("searchRuns: file store and tracking server", () => {
  test("the same fixture gives the same runs in the same order for every query; the server is paged", async () => {
    await using dir = tmpdirFor()
    const root = join(dir.path, "mlruns")
    const fileStore = createFileStore(root, { sweepStamps: join(dir.path, "sweeps") })
    const fileIds = await record(fileStore, markFileRunDeleted(root))
    await using server = mlflowServer({ searchPageCap: 2 })
    const restStore = createRestStore(restConfigFromUri(server.url, fast))
    const restIds = await record(restStore, (runId) => void ((server.runs.get(runId) as ServerRun).info.lifecycle_stage = "deleted"))
    for (const query of queries) {
      const fileRuns = await fileStore.searchRuns({ ...query, experimentIds: query.both ? [fileIds.a, fileIds.b] : [fileIds.a] })
      const restRuns = await restStore.searchRuns({ ...query, experimentIds: query.both ? [restIds.a, restIds.b] : [restIds.a] })
      expect(names(fileRuns), JSON.stringify(query)).toEqual(names(restRuns))
      // And both agree with the in-memory evaluation of the whole runs.
      const all = await fileStore.searchRuns({ experimentIds: query.both ? [fileIds.a, fileIds.b] : [fileIds.a], runViewType: query.runViewType })
      expect(names(selectRuns(all.map(viewOf), parseQuery(query.filter, query.orderBy), query.maxResults).map((v) => all.find((r) => r.info === v.info) as Run))).toEqual(names(fileRuns))
    }
    // Answers pinned by hand, so an agreement of two wrong implementations would still fail.
    const fileSearch = (query: Omit<SearchRunsInput, "experimentIds">) => fileStore.searchRuns({ ...query, experimentIds: [fileIds.a] }).then(names)
    expect(await fileSearch({})).toEqual(["r8", "r5", "r4", "r3", "r2", "r1"])
    expect(await fileSearch({ orderBy: ["metrics.rmse"] })).toEqual(["r3", "r8", "r1", "r5", "r2", "r4"])
    expect(await fileSearch({ orderBy: ["metrics.rmse DESC"] })).toEqual(["r5", "r1", "r8", "r3", "r2", "r4"])
    expect(await fileSearch({ filter: "params.model LIKE 'L%'" })).toEqual(["r8", "r4", "r1"])
    expect(await fileSearch({ filter: "params.model ILIKE 'l_'" })).toEqual(["r8", "r5", "r4", "r1"])
    expect(await fileSearch({ runViewType: "DELETED_ONLY" })).toEqual(["r6"])
    // Every page asked for at most what was still wanted; the cap of 2 made the server page.
    const pages = server.calls("runs/search").map((c) => c.json)
    expect(pages.some((p) => typeof p.page_token === "string")).toBe(true)
    expect(pages.every((p) => (p.max_results as number) <= 1000)).toBe(true)
  })

  test("a file store leaves out run folders it cannot read, says which, and ignores folders that are no run", async () => {
    await using dir = tmpdirFor()
    const root = join(dir.path, "mlruns")
    const store = createFileStore(root, { sweepStamps: join(dir.path, "sweeps") })
    const good = await store.createRun({ experiment_id: "0", user_id: "ada", start_time: 1, run_name: "good", tags: [] })
    const badMeta = await store.createRun({ experiment_id: "0", user_id: "ada", start_time: 2, run_name: "bad-meta", tags: [] })
    const badMetric = await store.createRun({ experiment_id: "0", user_id: "ada", start_time: 3, run_name: "bad-metric", tags: [] })
    writeFileSync(join(root, "0", badMeta.run_id, "meta.yaml"), "status: [unclosed\n")
    mkdirSync(join(root, "0", badMetric.run_id, "metrics"), { recursive: true })
    writeFileSync(join(root, "0", badMetric.run_id, "metrics", "loss"), "not a metric line\n")
    mkdirSync(join(root, "0", "f".repeat(32)))
    mkdirSync(join(root, "0", "notes"))
    const problems: string[] = []
    const runs = await store.searchRuns({ experimentIds: ["0"], onUnreadable: (p) => void problems.push(p.run) })
    expect(names(runs)).toEqual(["good"])
    expect(problems.sort()).toEqual([badMeta.run_id, badMetric.run_id, "f".repeat(32)].sort())
    // A filter that reads the broken metric leaves that run out at the filter instead.
    problems.length = 0
    expect(names(await store.searchRuns({ experimentIds: ["0"], filter: "metrics.loss > 0", onUnreadable: (p) => void problems.push(p.run) }))).toEqual([])
    expect(problems).toContain(badMetric.run_id)
    expect(good.run_id).toMatch(/^[0-9a-f]{32}$/)
    // Unknown experiments add nothing, as in MLflow; a key that would leave the run folder names no file.
    expect(await store.searchRuns({ experimentIds: ["424242"] })).toEqual([])
    expect(names(await store.searchRuns({ experimentIds: ["0"], filter: "tags.`../../meta.yaml` IS NOT NULL" }))).toEqual([])
    // Dataset filters need the server's dataset records: refused once, not counted against every run.
    problems.length = 0
    const datasets = await store.searchRuns({ experimentIds: ["0"], filter: "datasets.name = 'x'", onUnreadable: (p) => void problems.push(p.run) }).catch((e: unknown) => e)
    expect(datasets).toMatchObject({ code: "unsupported", exitCode: 2 })
    expect(problems).toEqual([])
  })

  test("a filter MLflow refuses fails before any request, with its column", async () => {
    await using server = mlflowServer()
    const store = createRestStore(restConfigFromUri(server.url, fast))
    const error = await store.searchRuns({ experimentIds: ["0"], filter: "params.a = 1" }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: "tracking.filter.invalid", exitCode: 2 })
    expect(server.calls("runs/search")).toHaveLength(0)
  })
})

/** Copies every run of a corpus store, as the file store reads it, into the loopback server with the same ids. */
const loadIntoServer = async (server: MlflowServer, store: Store, experimentIds: string[]): Promise<void> => {
  for (const id of experimentIds) {
    server.experiments.set(id, { experiment_id: id, name: `corpus-${id}`, artifact_location: "", lifecycle_stage: "active", creation_time: 0, last_update_time: 0 })
    for (const run of await store.searchRuns({ experimentIds: [id], runViewType: "ALL" })) {
      server.runs.set(run.info.run_id, {
        info: { ...run.info, run_uuid: run.info.run_id, ...(run.info.end_time === null ? {} : { end_time: run.info.end_time }) } as ServerRun["info"],
        params: new Map(Object.entries(run.data.params)),
        tags: new Map(Object.entries(run.data.tags)),
        metrics: Object.values(run.data.metrics),
      })
    }
  }
}

const quoteKey = (key: string) => (/^[A-Za-z_][\w.]*$/.test(key) && !/\.\d/.test(key) ? key : `\`${key}\``)

describe.skipIf(!hasShared)(`searchRuns over the real mlruns corpus${hasShared ? "" : ` (${sharedSkipReason})`}`, () => {
  test("every corpus store: the file store and the server agree on filters and orders built from its own keys", async () => {
    await using sweeps = tmpdirFor()
    const stores = readdirSync(corpusDir("mlruns")).filter((name) => /^\d\d__/.test(name))
    let compared = 0
    for (const name of stores) {
      const mlruns = join(corpusDir("mlruns"), name, "mlruns")
      const fileStore = createFileStore(mlruns, { sweepStamps: join(sweeps.path, name) })
      const experimentIds = readdirSync(mlruns).filter((id) => /^\d+$/.test(id))
      await using server = mlflowServer({ searchPageCap: 7 })
      await loadIntoServer(server, fileStore, experimentIds)
      const restStore = createRestStore(restConfigFromUri(server.url, fast))
      const all = await fileStore.searchRuns({ experimentIds, runViewType: "ALL" })
      const first = all[0]
      if (first === undefined) continue
      const metric = Object.entries(first.data.metrics).find(([, m]) => Number.isFinite(m.value))
      const param = Object.entries(first.data.params)[0]
      const tag = Object.keys(first.data.tags).find((k) => k !== "mlflow.log-model.history")
      const built: Array<Omit<SearchRunsInput, "experimentIds">> = [
        {},
        { runViewType: "ALL" },
        { filter: "attributes.status = 'FINISHED'" },
        { filter: "attributes.status != 'FINISHED'", runViewType: "ALL" },
        { orderBy: ["attributes.run_name"] },
        { orderBy: ["attributes.end_time DESC"], runViewType: "ALL" },
        { orderBy: ["attributes.start_time"], maxResults: 3 },
        ...(metric ? [{ filter: `metrics.${quoteKey(metric[0])} <= ${metric[1].value}` }, { orderBy: [`metrics.${quoteKey(metric[0])} DESC`] }, { orderBy: [`metrics.${quoteKey(metric[0])}`], maxResults: 5 }] : []),
        ...(param && !param[1].includes("'") ? [{ filter: `params.${quoteKey(param[0])} = '${param[1]}'` }, { orderBy: [`params.${quoteKey(param[0])} DESC`] }] : []),
        ...(tag ? [{ filter: `tags.${quoteKey(tag)} IS NOT NULL` }, { orderBy: [`tags.${quoteKey(tag)}`, "attributes.start_time"] }] : []),
      ]
      for (const query of built) {
        const input = { ...query, experimentIds }
        const [fromFiles, fromServer] = await Promise.all([fileStore.searchRuns(input), restStore.searchRuns(input)])
        expect(fromFiles.map((r) => r.info.run_id), `${name} ${JSON.stringify(query)}`).toEqual(fromServer.map((r) => r.info.run_id))
        compared++
      }
    }
    expect(compared).toBeGreaterThan(100)
  })
})
