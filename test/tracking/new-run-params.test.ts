// A run created with its params (one store write instead of two) and a final status that leaves a run its program ended.
import { afterAll, describe, expect, test } from "bun:test"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { storeFor } from "../../src/tracking/store-for.ts"
import { closeDbStores } from "../../src/tracking/sql/db-store.ts"
import { openDb } from "../../src/tracking/sql/db-client.ts"
import { parseDbUri } from "../../src/tracking/sql/db-uri.ts"
import type { Store } from "../../src/tracking/types.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const scratch = tmpdirFor("mlproject-new-run-")
afterAll(async () => {
  await closeDbStores()
  await scratch[Symbol.asyncDispose]()
})

let counter = 0
const stores = [
  { name: "file store", uri: () => `file://${join(scratch.path, `mlruns-${++counter}`)}` },
  { name: "sqlite", uri: () => `sqlite:///${join(scratch.path, `db-${++counter}.db`)}` },
]

const newRun = (store: Store, params: { key: string; value: string }[]) =>
  store.createRun({ experiment_id: "0", user_id: "ada", start_time: 1721829011136, run_name: "brave-fox-7", tags: [{ key: "mlflow.user", value: "ada" }], params })

for (const { name, uri } of stores) {
  describe(name, () => {
    test("writes the params a run is created with, in the same step (paramsAtCreate)", async () => {
      const store = storeFor(uri())
      expect(store.paramsAtCreate).toBe(true)
      const info = await newRun(store, [
        { key: "alpha", value: "0.1" },
        { key: "group/beta", value: "" },
      ])
      const run = await store.getRun(info.run_id)
      expect(run.data.params).toEqual({ alpha: "0.1", "group/beta": "" })
      expect(run.data.tags).toMatchObject({ "mlflow.user": "ada", "mlflow.runName": "brave-fox-7" })
      // Logged again with the same value is MLflow's no-op; another value is still refused.
      await store.logBatch(info.run_id, { params: [{ key: "alpha", value: "0.1" }] })
      expect(await store.logBatch(info.run_id, { params: [{ key: "alpha", value: "0.2" }] }).catch((e: unknown) => e)).toMatchObject({ code: "tracking.param.changed" })
    })

    test("duplicate or invalid param keys are refused before the run exists", async () => {
      const location = uri()
      const store = storeFor(location)
      const duplicate = await newRun(store, [
        { key: "alpha", value: "1" },
        { key: "alpha", value: "2" },
      ]).catch((e: unknown) => e)
      expect(duplicate).toMatchObject({ code: "tracking.param.duplicate" })
      expect(await newRun(store, [{ key: "../escape", value: "1" }]).catch((e: unknown) => e)).toMatchObject({ code: "tracking.key.invalid" })
      expect(await store.searchRuns({ experimentIds: ["0"] })).toEqual([])
    })

    test("updateRun unlessEnded leaves a run with a terminal status as it is, and ends a running one", async () => {
      const store = storeFor(uri())
      const ended = await newRun(store, [])
      await store.updateRun(ended.run_id, { status: "FINISHED", end_time: 5 })
      await store.updateRun(ended.run_id, { status: "FAILED", end_time: 9, unlessEnded: true })
      expect(await store.getRunInfo(ended.run_id)).toMatchObject({ status: "FINISHED", end_time: 5 })
      const running = await newRun(store, [])
      await store.updateRun(running.run_id, { status: "FAILED", end_time: 9, unlessEnded: true })
      expect(await store.getRunInfo(running.run_id)).toMatchObject({ status: "FAILED", end_time: 9 })
    })
  })
}

test("file store: the params are files of the run folder as MLflow writes them, and no staging folder is left", async () => {
  const root = join(scratch.path, "mlruns-layout")
  const store = storeFor(`file://${root}`)
  const info = await newRun(store, [
    { key: "alpha", value: "0.1" },
    { key: "group/beta", value: "b" },
  ])
  const dir = join(root, "0", info.run_id)
  expect(readFileSync(join(dir, "params", "alpha"), "utf8")).toBe("0.1")
  expect(readFileSync(join(dir, "params", "group", "beta"), "utf8")).toBe("b")
  expect(existsSync(join(dir, "meta.yaml"))).toBe(true)
  expect(readdirSync(root).filter((entry) => entry.startsWith(".mlproject-tmp-"))).toEqual([])
})

test("sqlite: the params are rows of MLflow's params table", async () => {
  const location = `sqlite:///${join(scratch.path, "rows.db")}`
  const info = await newRun(storeFor(location), [{ key: "alpha", value: "0.1" }])
  const client = await openDb(parseDbUri(location, scratch.path))
  try {
    expect(await client.all('SELECT "key", "value", run_uuid FROM params')).toEqual([{ key: "alpha", value: "0.1", run_uuid: info.run_id }])
  } finally {
    await client.close()
  }
})

test("a tracking server's store takes no params with its create call", () => {
  expect(storeFor("http://127.0.0.1:1").paramsAtCreate).toBe(false)
})
