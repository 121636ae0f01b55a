// Downloads to disk that never end or crawl: a `path` parameter and a project archive through the compiled binary, and
// the engine's low-speed rule in process. Each ends in a clear error naming the URL, the limit and its variable.
import { describe, expect, test } from "bun:test"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { download } from "../../src/storage/download.ts"
import { caught } from "../lib/caught.ts"
import { cli, requireBinary } from "../lib/cli.ts"
import { endless, patientServer, trickle } from "../lib/stall.ts"
import { tmpdirFor } from "../lib/tmp.ts"

/** Every file below `dir`, relative, for "nothing was left behind". */
const filesBelow = (dir: string): string[] =>
  existsSync(dir) ? readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)) : []

describe("a download to disk with no length that never ends", () => {
  test("as a `path` parameter: stopped at MLPROJECT_HTTP_MAX_DOWNLOAD_BYTES in constant memory, the partial file removed", async () => {
    await using dir = tmpdirFor()
    const counter = { sent: 0 }
    await using server = patientServer(() => new Response(endless(256 * 1024, counter)))
    dir.write("p/MLproject", "entry_points:\n  main:\n    parameters:\n      data: {type: path}\n    command: wc -c {data}\n")
    const home = join(dir.path, "home")
    const env = Object.fromEntries(
      Object.entries({ ...process.env, MLPROJECT_HOME: home, MLPROJECT_HTTP_MAX_DOWNLOAD_BYTES: String(200 * 1024 ** 2) }).filter(
        (e): e is [string, string] => e[1] !== undefined,
      ),
    )
    const child = Bun.spawn([requireBinary(), "run", "p", "-P", `data=${server.url}/stream`, "--json", "--storage-dir", join(dir.path, "storage")], {
      cwd: dir.path,
      env,
      stdout: "pipe",
      stderr: "pipe",
    })
    let peak = 0
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1] ?? 0) * 1024)
      } catch {
        // Exited.
      }
    }, 10)
    const [stdout, code] = await Promise.all([new Response(child.stdout).text(), child.exited])
    clearInterval(sampler)
    expect(code).toBe(1)
    const error = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as Record<string, string>
    expect(error.code).toBe("http.too_large")
    expect(error.message).toBe(`${server.url}/stream: the answer is more than 200 MiB, the most a download may have`)
    expect(error.hint).toContain("MLPROJECT_HTTP_MAX_DOWNLOAD_BYTES")
    expect(counter.sent).toBeGreaterThan(200 * 1024 ** 2)
    // 200 MiB went through; memory held a small, constant part of it.
    expect(peak).toBeLessThan(150 * 1024 ** 2)
    expect(filesBelow(join(home, "downloads")).filter((f) => !f.endsWith(".lock"))).toEqual([])
    expect(filesBelow(join(dir.path, "storage"))).toEqual([])
  })

  test("as a project archive: stopped at MLPROJECT_ARCHIVE_MAX_BYTES, nothing left in the scratch folder", async () => {
    await using dir = tmpdirFor()
    await using server = patientServer(() => new Response(endless(64 * 1024)))
    const home = join(dir.path, "home")
    const run = await cli(["run", `${server.url}/project.tar.gz`, "--json"], { cwd: dir.path, env: { MLPROJECT_HOME: home, MLPROJECT_ARCHIVE_MAX_BYTES: "1000000" } })
    expect(run.code).toBe(1)
    const error = run.events.find((e) => e.type === "error") as Record<string, string>
    expect(error.code).toBe("http.too_large")
    expect(error.message).toBe(`Unable to retrieve ${server.url}/project.tar.gz: the answer is more than 1000000 bytes`)
    expect(error.hint).toContain("MLPROJECT_ARCHIVE_MAX_BYTES")
    expect(filesBelow(join(home, "projects", "tmp"))).toEqual([])
  })
})

describe("a download that trickles", () => {
  test("a `path` download at 20 bytes/s ends by the low-speed rule once its retries are spent", async () => {
    await using dir = tmpdirFor()
    await using server = patientServer(() => new Response(trickle("x".repeat(100_000), 50), { headers: { "content-length": "100000" } }))
    const env = { MLPROJECT_HOME: dir.path, MLPROJECT_HTTP_LOW_SPEED_TIME: "0.5" }
    const started = performance.now()
    const error = await caught(download(`${server.url}/data.csv`, join(dir.path, "data.csv"), { env, noCache: true, tuning: { retries: 1 } }))
    expect(performance.now() - started).toBeLessThan(5000)
    expect(error.code).toBe("http.timeout")
    expect(error.message).toMatch(new RegExp(`^GET ${server.url}/data.csv: the answer arrives at [0-9.]+ bytes/s, less than 1024 bytes/s for 0.5 s$`))
    expect(error.hint).toContain("MLPROJECT_HTTP_LOW_SPEED_LIMIT")
  })

  test("a project archive at 20 bytes/s ends the same way, named without credentials", async () => {
    await using dir = tmpdirFor()
    await using server = patientServer(() => new Response(trickle("x".repeat(100_000), 50)))
    const url = server.url.replace("http://", "http://alice:hunter2@")
    const run = await cli(["run", `${url}/project.tar.gz`, "--json"], { cwd: dir.path, env: { MLPROJECT_HOME: join(dir.path, "home"), MLPROJECT_HTTP_LOW_SPEED_TIME: "0.5" } })
    expect(run.code).toBe(1)
    const error = run.events.find((e) => e.type === "error") as Record<string, string>
    expect(error.code).toBe("http.timeout")
    expect(error.message).toMatch(new RegExp(`^Unable to retrieve ${server.url}/project.tar.gz: the answer arrives at [0-9.]+ bytes/s, less than 1024 bytes/s for 0.5 s$`))
    expect(JSON.stringify(run.events)).not.toContain("hunter2")
  })
})
