// A file store on a disk that is really full (a 1 MiB tmpfs): `log` and `run` fail clearly and leave the store as it was.
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { readFileSync, readdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { cli } from "../lib/cli.ts"
import { runIds, snapshotTree, storeProblems } from "../lib/mlruns.ts"
import { mountTmpfs, type Tmpfs } from "../lib/tmpfs.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const mounted = mountTmpfs("1m")
const skip = typeof mounted === "string" ? mounted : null
if (skip) console.warn(`skipping the full-disk tests: ${skip}`)
const disk = (typeof mounted === "string" ? null : mounted) as Tmpfs
const store = disk ? join(disk.path, "mlruns") : ""
const project = tmpdirFor("mlproject-diskfull-")
project.write("MLproject", "name: full\nentry_points:\n  main:\n    parameters:\n      a: {type: string, default: x}\n    command: echo hi\n")
const env = { MLFLOW_TRACKING_URI: `file://${store}` }

const page = 4096
let runId = ""

/** Metric lines `<ms> 1.0 <step>` that fill `bytes` exactly (the last value is widened to make it fit). */
const metricText = (bytes: number): string => {
  const lines: string[] = []
  let size = 0
  for (let step = 0; bytes - size > 60; step++) {
    const line = `1700000000000 1.0 ${step}\n`
    lines.push(line)
    size += line.length
  }
  const last = `1700000000000 1.0 9\n`
  lines.push(`1700000000000 1${"0".repeat(bytes - size - last.length)}.0 9\n`)
  const text = lines.join("")
  if (text.length !== bytes) throw new Error(`metric text is ${text.length} bytes, wanted ${bytes}`)
  return text
}

const log = (args: string[]) => cli(["log", ...args, "--json"], { env: { ...env, MLFLOW_RUN_ID: runId } })
const errorOf = (result: Awaited<ReturnType<typeof cli>>) => result.events.find((e) => e.type === "error") as { code: string; message: string; hint?: string } | undefined

beforeAll(async () => {
  if (!disk) return
  // A store with a run, a param, a tag and a metric, made while there is room.
  const made = await cli(["run", project.path, "--json"], { env })
  expect(made.code).toBe(0)
  runId = String(made.events.find((e) => e.type === "run.created")?.run_id)
  expect((await log(["param", "kept", "1"])).code).toBe(0)
  expect((await log(["tag", "kept", "1"])).code).toBe(0)
  // A metric file 10 bytes short of a whole page: the next line half fits, so the kernel writes part of it.
  writeFileSync(join(store, "0", runId, "metrics", "loss"), metricText(page - 10))
  disk.fill()
})

afterAll(async () => {
  disk?.unmount()
  await project[Symbol.asyncDispose]()
})

describe.skipIf(skip !== null)("a full disk under the file store", () => {
  test("the disk is full and the store is readable before anything is tried", () => {
    expect(disk.freeBytes()).toBe(0)
    expect(storeProblems(store)).toEqual([])
  })

  test("log metric into a file whose last page has room for part of the line: exit 1, the file byte-for-byte as before", async () => {
    const before = snapshotTree(store)
    const loss = join(store, "0", runId, "metrics", "loss")
    const original = readFileSync(loss, "utf8")
    const result = await log(["metric", "loss", "0.5", "--step", "123456"])
    expect(result.code).toBe(1)
    const error = errorOf(result)
    expect(error?.code).toBe("tracking.disk_full")
    expect(error?.message).toContain("no space left on the device")
    expect(error?.message).toContain(loss)
    expect(error?.hint).toContain("free space")
    expect(readFileSync(loss, "utf8")).toBe(original)
    expect(snapshotTree(store)).toEqual(before)
  })

  test.each([
    ["a new metric (no 0-byte file is left)", ["metric", "fresh", "1.5"]],
    ["a new param (no temp file is left)", ["param", "fresh", "value"]],
    ["a tag (the old value stays)", ["tag", "kept", "2"]],
  ])("log %s: exit 1, the store unchanged", async (_, args) => {
    const before = snapshotTree(store)
    const result = await log(args)
    expect(result.code).toBe(1)
    expect(errorOf(result)?.code).toBe("tracking.disk_full")
    expect(snapshotTree(store)).toEqual(before)
  })

  test.each([
    ["in the Default experiment", []],
    ["in a new experiment", ["--experiment-name", "never-made"]],
  ])("run %s: exit 1 with a clear message, no run or experiment appears", async (_, extra) => {
    const before = snapshotTree(store)
    const result = await cli(["run", project.path, ...extra], { env })
    expect(result.code).toBe(1)
    expect(result.stderr).toContain("no space left on the device")
    expect(result.stderr).toContain(store)
    expect(result.stderr).toContain("free space on the filesystem")
    expect(result.stderr).not.toContain("internal error")
    expect(snapshotTree(store)).toEqual(before)
  })

  test("with a little room at a time, whatever run and log manage leaves a store MLflow reads, old files untouched", async () => {
    const before = snapshotTree(store)
    for (const pages of [1, 1, 2, 2, 3, 4, 8]) {
      disk.free(pages)
      await cli(["run", project.path, "-P", `a=${pages}`], { env })
      await log(["metric", "grow", String(pages)])
      expect(storeProblems(store)).toEqual([])
    }
    const after = snapshotTree(store)
    const ownRun = join("0", runId, "metrics")
    for (const [path, content] of Object.entries(before)) {
      // Appends to our own run's metrics may have landed; everything else is exactly as it was.
      if (path.startsWith(ownRun) || path === "0") continue
      expect(after[path], path).toBe(content)
    }
    expect(runIds(store, "0").length).toBeGreaterThan(1)
    expect(readdirSync(store).filter((n) => n.startsWith(".mlproject-tmp-"))).toEqual([])
  })
})
