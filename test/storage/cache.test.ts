// The download cache: one download per URI and version, across calls and concurrent callers; noCache; stale locks.
import { describe, expect, test } from "bun:test"
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs"
import { hostname } from "node:os"
import { join } from "node:path"
import { cacheKey } from "../../src/storage/cache.ts"
import { downloadPathParameter, downloadUri, stat } from "../../src/storage/index.ts"
import { pseudoRandom, sha256 } from "../lib/bytes.ts"
import { objectServer, type ObjectServer } from "../lib/object-server.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const MiB = 1024 * 1024
/** Requests that carried a body (stat requests ask for one byte). */
const bodyRequests = (server: ObjectServer) => server.requests.filter((r) => r.headers.get("range") !== "bytes=0-0").length

describe("download cache", () => {
  test("the same URI and version is downloaded once; runs get hard links to the cached file", async () => {
    await using tmp = tmpdirFor()
    const bytes = pseudoRandom(MiB, 21)
    await using server = objectServer({ "/d.csv": bytes })
    const env = { MLPROJECT_HOME: join(tmp.path, "home") }
    const first = await downloadUri(`${server.url}/d.csv`, join(tmp.path, "run1", "d.csv"), { env })
    const second = await downloadUri(`${server.url}/d.csv`, join(tmp.path, "run2", "d.csv"), { env })
    expect(first.cached).toBe(false)
    expect(second.cached).toBe(true)
    expect(bodyRequests(server)).toBe(1)
    expect(statSync(first.path).ino).toBe(statSync(second.path).ino)
    expect(sha256(readFileSync(second.path))).toBe(sha256(bytes))
    // Read-only: a program that writes its input must not change what later runs get.
    expect(statSync(second.path).mode & 0o222).toBe(0)
    const entries = readdirSync(join(env.MLPROJECT_HOME, "downloads"))
    const key = cacheKey(await stat(`${server.url}/d.csv`, { env }))
    expect(entries.sort()).toEqual([key, `${key}.json`])
  })

  test("a new version (changed ETag) is downloaded again", async () => {
    await using tmp = tmpdirFor()
    await using server = objectServer({ "/d.csv": pseudoRandom(1000, 1) })
    const env = { MLPROJECT_HOME: join(tmp.path, "home") }
    await downloadUri(`${server.url}/d.csv`, join(tmp.path, "a"), { env })
    const changed = pseudoRandom(1000, 2)
    server.put("/d.csv", changed)
    const again = await downloadUri(`${server.url}/d.csv`, join(tmp.path, "b"), { env })
    expect(again.cached).toBe(false)
    expect(readFileSync(again.path)).toEqual(Buffer.from(changed))
    expect(bodyRequests(server)).toBe(2)
  })

  test("noCache downloads every time and leaves the cache alone", async () => {
    await using tmp = tmpdirFor()
    await using server = objectServer({ "/d.csv": pseudoRandom(1000, 3) })
    const env = { MLPROJECT_HOME: join(tmp.path, "home") }
    await downloadUri(`${server.url}/d.csv`, join(tmp.path, "a"), { env, noCache: true })
    const again = await downloadUri(`${server.url}/d.csv`, join(tmp.path, "b"), { env, noCache: true })
    expect(again.cached).toBe(false)
    expect(bodyRequests(server)).toBe(2)
    expect(existsSync(join(env.MLPROJECT_HOME, "downloads"))).toBe(false)
  })

  test("concurrent downloads of one object fetch it once", async () => {
    await using tmp = tmpdirFor()
    const bytes = pseudoRandom(2 * MiB, 4)
    await using server = objectServer({ "/shared.bin": bytes }, { slow: { chunk: 256 * 1024, delayMs: 10 } })
    const env = { MLPROJECT_HOME: join(tmp.path, "home") }
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => downloadUri(`${server.url}/shared.bin`, join(tmp.path, `run${i}`, "shared.bin"), { env })),
    )
    expect(results.filter((r) => !r.cached)).toHaveLength(1)
    expect(bodyRequests(server)).toBe(1)
    for (const result of results) expect(sha256(readFileSync(result.path))).toBe(sha256(bytes))
  })

  test("concurrent processes needing one object download it once (the lock file)", async () => {
    await using tmp = tmpdirFor()
    const bytes = pseudoRandom(2 * MiB, 7)
    await using server = objectServer({ "/p.bin": bytes }, { slow: { chunk: 128 * 1024, delayMs: 20 } })
    const env = { ...process.env, MLPROJECT_HOME: join(tmp.path, "home") }
    const main = join(import.meta.dir, "..", "lib", "download-main.ts")
    const children = Array.from({ length: 3 }, (_, i) =>
      Bun.spawn([process.execPath, main, `${server.url}/p.bin`, join(tmp.path, `run${i}`, "p.bin")], { env, stdout: "pipe", stderr: "inherit" }),
    )
    const outputs = await Promise.all(children.map(async (child) => ((await child.exited), await new Response(child.stdout).text())))
    const results = outputs.map((text) => JSON.parse(text.trim().split("\n").at(-1) ?? "{}") as { cached: boolean; path: string })
    expect(results.filter((r) => !r.cached)).toHaveLength(1)
    expect(bodyRequests(server)).toBe(1)
    for (const result of results) expect(sha256(readFileSync(result.path))).toBe(sha256(bytes))
  })

  test("a sweep of many runs over one dataset downloads it once", async () => {
    await using tmp = tmpdirFor()
    await using server = objectServer({ "/data/train.parquet": pseudoRandom(256 * 1024, 5) })
    const env = { MLPROJECT_HOME: join(tmp.path, "home") }
    for (let run = 0; run < 50; run++) {
      const local = await downloadPathParameter(`${server.url}/data/train.parquet`, { env, storageDir: join(tmp.path, `run${run}`), index: 0 })
      expect(local).toBe(join(tmp.path, `run${run}`, "param_0", "train.parquet"))
    }
    expect(bodyRequests(server)).toBe(1)
  })

  test("a lock left by a process that is gone does not block the download", async () => {
    await using tmp = tmpdirFor()
    await using server = objectServer({ "/l": pseudoRandom(1000, 6) })
    const env = { MLPROJECT_HOME: join(tmp.path, "home") }
    const key = cacheKey(await stat(`${server.url}/l`, { env }))
    mkdirSync(join(env.MLPROJECT_HOME, "downloads"), { recursive: true })
    const dead = Bun.spawnSync(["true"]).pid
    writeFileSync(join(env.MLPROJECT_HOME, "downloads", `${key}.lock`), JSON.stringify({ pid: dead, host: hostname(), token: "x" }))
    const result = await downloadUri(`${server.url}/l`, join(tmp.path, "l"), { env })
    expect(result.cached).toBe(false)
    expect(existsSync(join(env.MLPROJECT_HOME, "downloads", `${key}.lock`))).toBe(false)
  })
})
