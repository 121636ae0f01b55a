// Progress events through the binary are rate-limited and never repeat themselves: fetch.progress for Git, progress for downloads.
import { describe, expect, test } from "bun:test"
import { join } from "node:path"
import { cli } from "../lib/cli.ts"
import { gitRepo } from "../lib/git.ts"
import { loopback } from "../lib/loopback.ts"
import { tmpdirFor } from "../lib/tmp.ts"

type Event = Record<string, unknown> & { type: string }

/** Consecutive events of `type` that say the same thing: the same `fields` (a new rate or time is no news). */
const repeats = (events: Event[], type: string, fields: string[]): Event[] => {
  const said = events.filter((e) => e.type === type).map((e) => JSON.stringify(fields.map((f) => e[f])))
  return said.flatMap((text, i) => (i > 0 && text === said[i - 1] ? [JSON.parse(text) as Event] : []))
}

describe("no identical progress events in a row", () => {
  test("a Git fetch with thousands of objects: git's repeated 100% lines are said once", async () => {
    // 3000 changing files: git reports counting, compressing and receiving, and ends each with its line repeated.
    await using repo = gitRepo({ commits: 1, churn: 3000 })
    await using dir = tmpdirFor()
    const result = await cli(["validate", `file://${repo.path}`, "--json"], { cwd: dir.path, env: { MLPROJECT_HOME: join(dir.path, "home") } })
    expect(result.code, result.stdout).toBe(0)
    const progress = result.events.filter((e) => e.type === "fetch.progress")
    expect(progress.some((e) => e.phase === "receiving objects" && e.done === e.total)).toBe(true)
    expect(repeats(result.events, "fetch.progress", ["source", "phase", "done", "total"])).toEqual([])
  }, 120_000)

  test("a small path download: the finishing event does not repeat the last one", async () => {
    // One chunk: the first count and the finish see the same figure.
    const body = new Uint8Array(1000).fill(7)
    await using server = loopback(() => new Response(body, { headers: { "content-length": String(body.length) } }))
    await using dir = tmpdirFor()
    dir.write("p/MLproject", "entry_points:\n  main:\n    parameters:\n      data: path\n    command: 'wc -c < {data}'\n")
    const result = await cli(["run", "p", "-P", `data=${server.url}/data.bin`, "--storage-dir", join(dir.path, "storage"), "--json"], {
      cwd: dir.path,
      env: { MLPROJECT_HOME: join(dir.path, "home") },
    })
    expect(result.code, result.stdout + result.stderr).toBe(0)
    const progress = result.events.filter((e) => e.type === "progress")
    expect(progress.at(-1)).toMatchObject({ done: body.length, total: body.length })
    expect(repeats(result.events, "progress", ["task", "done", "total"])).toEqual([])
  })
})
