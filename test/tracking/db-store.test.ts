// The database stores behind the Store interface: every kind of row as MLflow's SqlAlchemyStore writes it, on sqlite, PostgreSQL and MariaDB.
import { afterAll, describe, expect, test } from "bun:test"
import { join } from "node:path"
import { storeFor } from "../../src/tracking/store-for.ts"
import { createFileStore } from "../../src/tracking/file-store.ts"
import { closeDbStores } from "../../src/tracking/sql/db-store.ts"
import { openDb, type DbClient } from "../../src/tracking/sql/db-client.ts"
import { parseDbUri } from "../../src/tracking/sql/db-uri.ts"
import type { Run, SearchRunsInput, Store } from "../../src/tracking/types.ts"
import { mariadbSkipReason, postgresSkipReason, startMariadb, startPostgres, type DbServer } from "../lib/databases.ts"
import { queries, record } from "../lib/search-fixture.ts"
import { tmpdirFor } from "../lib/tmp.ts"

type Backend = { name: string; fresh(label: string): Promise<string> }

const scratch = tmpdirFor("mlproject-db-store-")
let counter = 0
const servers: DbServer[] = []
afterAll(async () => {
  await closeDbStores()
  for (const server of servers) await server.stop()
  await scratch[Symbol.asyncDispose]()
})

const sqlite: Backend = { name: "sqlite", fresh: async (label) => `sqlite:///${join(scratch.path, `${label}-${++counter}.db`)}` }
const serverBackend = (name: string, start: () => Promise<DbServer | null>): Backend & { ready: Promise<DbServer | null> } => {
  const ready = start().then((server) => {
    if (server) servers.push(server)
    return server
  })
  return {
    name,
    ready,
    fresh: async (label) => {
      const server = await ready
      if (!server) throw new Error(`${name} is not available`)
      return server.newDatabase(`${label.replace(/\W/g, "_")}_${++counter}`)
    },
  }
}
const postgres = serverBackend("postgresql", startPostgres)
const mariadb = serverBackend("mariadb", startMariadb)
const available = { postgresql: (await postgres.ready) !== null, mariadb: (await mariadb.ready) !== null }

/** The raw rows, to check what MLflow would read, not only what our own reader makes of them. */
const rawClient = (uri: string): Promise<DbClient> => openDb(parseDbUri(uri, scratch.path))

const backends: Array<{ backend: Backend; skip: string | null }> = [
  { backend: sqlite, skip: null },
  { backend: postgres, skip: available.postgresql ? null : postgresSkipReason },
  { backend: mariadb, skip: available.mariadb ? null : mariadbSkipReason },
]

const names = (runs: Run[]) => runs.map((r) => r.info.run_name)

for (const { backend, skip } of backends) {
  describe.skipIf(skip !== null)(`database store on ${backend.name}${skip ? ` (${skip})` : ""}`, () => {
    test("experiments, runs, params, tags and metrics: written as MLflow's rows and read back through the Store", async () => {
      const uri = await backend.fresh("rows")
      const store = storeFor(uri)
      // A new database gets MLflow's Default experiment 0, its artifacts under ./mlruns made absolute.
      const zero = await store.getExperiment("0")
      expect(zero).toMatchObject({ experiment_id: "0", name: "Default", lifecycle_stage: "active", artifact_location: join(process.cwd(), "mlruns", "0") })
      const made = await store.getOrCreateExperiment("db-rows")
      expect(made.created).toBe(true)
      expect(made.experiment_id).not.toBe("0")
      expect(await store.getOrCreateExperiment("db-rows")).toEqual({ experiment_id: made.experiment_id, created: false })
      expect((await store.getExperimentByName("db-rows"))?.artifact_location).toBe(join(process.cwd(), "mlruns", made.experiment_id))
      expect(await store.getExperimentByName("no-such")).toBeNull()

      const info = await store.createRun({ experiment_id: made.experiment_id, user_id: "ada", start_time: 1000, run_name: "first", tags: [{ key: "team", value: "a" }] })
      expect(info).toMatchObject({ status: "RUNNING", run_name: "first", user_id: "ada", end_time: null, lifecycle_stage: "active" })
      expect(info.artifact_uri).toBe(join(process.cwd(), "mlruns", made.experiment_id, info.run_id, "artifacts"))
      await store.logBatch(info.run_id, {
        params: [{ key: "alpha", value: "0.5" }, { key: "layers", value: "3" }],
        metrics: [
          { key: "loss", value: 0.9, timestamp: 10, step: 0 },
          { key: "loss", value: 0.4, timestamp: 11, step: 2 },
          { key: "loss", value: 0.1, timestamp: 12, step: 1 },
          { key: "bad", value: NaN, timestamp: 10, step: 0 },
          { key: "big", value: Infinity, timestamp: 10, step: 0 },
        ],
        tags: [{ key: "team", value: "b" }],
      })
      // The same param value again is fine; another value is MLflow's error, and the batch writes nothing.
      await store.logBatch(info.run_id, { params: [{ key: "alpha", value: "0.5" }] })
      const changed = await store.logBatch(info.run_id, { params: [{ key: "gamma", value: "1" }, { key: "alpha", value: "0.7" }] }).catch((e: unknown) => e)
      expect(changed).toMatchObject({ code: "tracking.param.changed", exitCode: 2 })
      await store.logMetric(info.run_id, { key: "loss", value: 0.05, timestamp: 13, step: 2 })
      await store.setTag(info.run_id, "mlflow.runName", "renamed")
      await store.updateRun(info.run_id, { status: "FINISHED", end_time: 2000 })

      const run = await store.getRun(info.run_id)
      expect(run.info).toMatchObject({ run_name: "renamed", status: "FINISHED", end_time: 2000, start_time: 1000 })
      expect(await store.getRunInfo(info.run_id)).toEqual(run.info)
      expect(run.data.params).toEqual({ alpha: "0.5", layers: "3" })
      expect(run.data.tags).toMatchObject({ team: "b", "mlflow.runName": "renamed" })
      // Latest metric: the greatest (step, timestamp, value); NaN kept as NaN, infinity as the largest double.
      expect(run.data.metrics.loss).toEqual({ key: "loss", value: 0.05, timestamp: 13, step: 2 })
      expect(Number.isNaN(run.data.metrics.bad?.value)).toBe(true)
      expect(run.data.metrics.big?.value).toBe(Number.MAX_VALUE)

      const db = await rawClient(uri)
      try {
        const q = (name: string) => (db.dialect === "mysql" ? `\`${name}\`` : `"${name}"`)
        const [row] = await db.all("SELECT * FROM runs WHERE run_uuid = ?", [info.run_id])
        expect(row).toMatchObject({ name: "renamed", status: "FINISHED", source_type: "UNKNOWN", user_id: "ada", lifecycle_stage: "active" })
        expect(Number(row?.experiment_id)).toBe(Number(made.experiment_id))
        const metrics = await db.all(`SELECT ${q("key")}, ${q("value")}, step, is_nan FROM metrics WHERE run_uuid = ? ORDER BY ${q("key")}, step`, [info.run_id])
        expect(metrics).toHaveLength(6)
        const nan = metrics.find((m) => m.key === "bad")
        expect(Number(nan?.value)).toBe(0)
        expect([true, 1, "1"]).toContain(nan?.is_nan as never)
        const latest = await db.all(`SELECT ${q("key")}, ${q("value")}, step FROM latest_metrics WHERE run_uuid = ?`, [info.run_id])
        expect(latest).toHaveLength(3)
        expect(await db.all(`SELECT ${q("key")} FROM params WHERE run_uuid = ? ORDER BY ${q("key")}`, [info.run_id])).toEqual([{ key: "alpha" }, { key: "layers" }])
        expect((await db.all("SELECT version_num FROM alembic_version"))[0]?.version_num).toBe("4465047574b1")
      } finally {
        await db.close()
      }

      // MLflow's errors for missing and deleted things.
      expect(await store.getRun("f".repeat(32)).catch((e: unknown) => e)).toMatchObject({ code: "tracking.run.not_found", exitCode: 2 })
      expect(await store.createRun({ experiment_id: "999999", user_id: "ada", start_time: 1, run_name: "x", tags: [] }).catch((e: unknown) => e)).toMatchObject({
        code: "tracking.experiment.not_found",
      })
      // Tag values beyond what the pinned schema's tags table holds are refused whole, not cut.
      expect(await store.setTag(info.run_id, "long", "x".repeat(5001)).catch((e: unknown) => e)).toMatchObject({ code: "tracking.value.too_long", exitCode: 2 })
    })

    test("searchRuns answers every query of the shared fixture exactly as the file store does", async () => {
      const uri = await backend.fresh("search")
      const store = storeFor(uri)
      const db = await rawClient(uri)
      const deleted: string[] = []
      const ids = await record(store, (runId) => void deleted.push(runId))
      for (const runId of deleted) await db.run("UPDATE runs SET lifecycle_stage = 'deleted' WHERE run_uuid = ?", [runId])
      await db.close()
      await using dir = tmpdirFor()
      const root = join(dir.path, "mlruns")
      const fileStore = createFileStore(root, { sweepStamps: join(dir.path, "sweeps") })
      const fileIds = await record(fileStore, (runId, experimentId) => {
        const meta = join(root, experimentId, runId, "meta.yaml")
        require("node:fs").writeFileSync(meta, require("node:fs").readFileSync(meta, "utf8").replace("lifecycle_stage: active", "lifecycle_stage: deleted"))
      })
      const ask = (s: Store, i: { a: string; b: string }, query: Omit<SearchRunsInput, "experimentIds"> & { both?: boolean }) =>
        s.searchRuns({ ...query, experimentIds: query.both ? [i.a, i.b] : [i.a] }).then(names)
      for (const query of queries) expect(await ask(store, ids, query), JSON.stringify(query)).toEqual(await ask(fileStore, fileIds, query))
      expect(await ask(store, ids, { orderBy: ["metrics.rmse"] })).toEqual(["r3", "r8", "r1", "r5", "r2", "r4"])
    })

    test("concurrent writers in one process and a race to create one experiment lose nothing", async () => {
      const uri = await backend.fresh("race")
      const stores = Array.from({ length: 6 }, () => storeFor(uri))
      const made = await Promise.all(stores.map((s) => s.getOrCreateExperiment("raced")))
      expect(new Set(made.map((m) => m.experiment_id)).size).toBe(1)
      const runs = await Promise.all(
        stores.map(async (s, i) => {
          const info = await s.createRun({ experiment_id: made[0]!.experiment_id, user_id: "ada", start_time: i, run_name: `r${i}`, tags: [] })
          await s.logBatch(info.run_id, { metrics: Array.from({ length: 50 }, (_, step) => ({ key: "m", value: step, timestamp: step, step })) })
          return info.run_id
        }),
      )
      for (const runId of runs) expect((await stores[0]!.getRun(runId)).data.metrics.m?.value).toBe(49)
    })
  })
}
