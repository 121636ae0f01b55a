// `mlproject cache list|gc` through the binary: every kind listed, gc by last use and by size, never in use, never foreign.
import { afterAll, describe, expect, test } from "bun:test"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs"
import { hostname, tmpdir } from "node:os"
import { join } from "node:path"
import { cli } from "../lib/cli.ts"
import { tar } from "../lib/archives.ts"
import { dockerSkipReason, removeImage, requireDocker, skipDocker, testImage } from "../lib/docker.ts"
import { buildProjectImage } from "../../src/env/docker-image.ts"
import { takeLease } from "../../src/util/lease.ts"
import { acquireLock } from "../../src/util/lock.ts"

const homes: string[] = []
afterAll(() => {
  for (const home of homes) rmSync(home, { recursive: true, force: true })
})

type Entry = { id: string; path: string; bytes: number; last_used: string; in_use: boolean; leftover: boolean }
type Kind = { kind: string; root: string; count: number; bytes: number; in_use: number; note?: string; entries: Entry[] }

const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000)
const age = (path: string, days: number) => utimesSync(path, daysAgo(days), daysAgo(days))

const deadPid = async (): Promise<number> => {
  const child = Bun.spawn(["true"])
  await child.exited
  return child.pid
}

/**
 * A home with an entry of each file kind made the way mlproject makes it: a fetched archive (and its pooled copy, and a
 * parsed record) from a real run, a download and an environment as their writers leave them, a dead run's working
 * copy, plus files that only look like ours.
 */
const populatedHome = async () => {
  const home = mkdtempSync(join(tmpdir(), "mlproject-cachehome-"))
  homes.push(home)
  const env = { MLPROJECT_HOME: home, MLFLOW_TRACKING_URI: join(home, "..", `${home.split("/").at(-1)}-mlruns`) }
  homes.push(env.MLFLOW_TRACKING_URI)
  const archive = join(home, "..", `${home.split("/").at(-1)}-p.tar.gz`)
  homes.push(archive)
  writeFileSync(archive, tar([{ name: "p/MLproject", data: "entry_points:\n  main:\n    command: \"true\"\n" }], true))
  const ran = await cli(["run", archive], { env })
  expect(ran.code, ran.stderr).toBe(0)
  const local = join(home, "..", `${home.split("/").at(-1)}-local`)
  homes.push(local)
  mkdirSync(local)
  writeFileSync(join(local, "MLproject"), "entry_points:\n  main:\n    command: \"true\"\n")
  expect((await cli(["run", local], { env })).code).toBe(0)

  const downloads = join(home, "downloads")
  mkdirSync(downloads, { recursive: true })
  const key = "ab".repeat(20)
  writeFileSync(join(downloads, key), "x".repeat(5000))
  writeFileSync(join(downloads, `${key}.json`), JSON.stringify({ uri: "s3://b/k", version: "1", size: 5000 }))
  const busyKey = "cd".repeat(20)
  writeFileSync(join(downloads, busyKey), "y".repeat(3000))
  writeFileSync(join(downloads, `${busyKey}.json`), "{}")
  writeFileSync(join(downloads, "notes.txt"), "mine")
  writeFileSync(join(downloads, "ef".repeat(20)), "a file of that name, but no record: not ours")

  const envs = join(home, "envs")
  const envKey = "virtualenv-0123456789abcdef"
  mkdirSync(join(envs, envKey, "bin"), { recursive: true })
  writeFileSync(join(envs, envKey, "bin", "python"), "#!/bin/sh\n")
  writeFileSync(join(envs, `${envKey}.json`), JSON.stringify({ format: 1, key: envKey, manager: "virtualenv", python: "3.11.7", prefix: join(envs, envKey), source: "", created: new Date().toISOString(), build_ms: 1 }))
  mkdirSync(join(envs, "virtualenv-00000000000000ff"))
  mkdirSync(join(envs, "mlflow-0123"))

  const deadCopy = join(home, "projects", "runs", `${hostname().replace(/[^A-Za-z0-9.-]/g, "_")}-${await deadPid()}-abc123`)
  mkdirSync(deadCopy, { recursive: true })
  writeFileSync(join(deadCopy, "MLproject"), "left by a killed run")
  mkdirSync(join(home, "projects", "git", "someone", "else"), { recursive: true })
  return { home, env, key, busyKey, envKey, deadCopy, downloads, envs }
}

const listed = async (env: Record<string, string>, extra: string[] = []) => {
  const result = await cli(["cache", "list", "--json", ...extra], { env })
  expect(result.code, result.stderr).toBe(0)
  return (result.events.find((e) => e.type === "cache.listed") as unknown as { home: string; kinds: Kind[] }).kinds
}

const gc = async (env: Record<string, string>, args: string[]) => {
  const result = await cli(["cache", "gc", "--json", ...args], { env })
  expect(result.code, result.stderr).toBe(0)
  return {
    removed: result.events.filter((e) => e.type === "cache.removed") as unknown as Array<{ kind: string; id: string; reason: string; bytes: number }>,
    summary: result.events.find((e) => e.type === "cache.collected") as unknown as { removed: number; busy: number; remaining_bytes: number; skipped: string[] },
  }
}

describe("mlproject cache", () => {
  test("list shows every kind with its entries, sizes, last use and what is in use; foreign files are not listed", async () => {
    const h = await populatedHome()
    const kinds = await listed(h.env, ["--kind", "projects,pool,workdirs,downloads,parsed,envs,runs"])
    expect(kinds.map((k) => k.kind)).toEqual(["projects", "pool", "workdirs", "downloads", "parsed", "envs", "runs"])
    const of = (name: string) => kinds.find((k) => k.kind === name) as Kind
    expect(of("projects").entries.map((e) => e.id)).toEqual([expect.stringMatching(/^archive\/[0-9a-f]{64}$/)])
    expect(of("pool").count).toBe(1)
    expect(of("workdirs").entries).toEqual([expect.objectContaining({ path: h.deadCopy, leftover: true, in_use: false })])
    expect(of("downloads").entries.map((e) => e.id).sort()).toEqual([h.key, h.busyKey].sort())
    // The parsed MLproject, and the run key's record of the project's file digests.
    expect(of("parsed").count).toBe(2)
    expect(of("envs").entries.map((e) => e.id)).toEqual([h.envKey])
    // The fixture's two finished runs left their records; nothing owns them any more.
    expect(of("runs")).toMatchObject({ count: 2, root: join(h.home, "runs") })
    expect(of("runs").entries.every((e) => /^[0-9a-f]{32}$/.test(e.id) && !e.in_use)).toBe(true)
    for (const kind of kinds) expect(kind.bytes).toBe(kind.entries.reduce((sum, e) => sum + e.bytes, 0))
    expect(of("downloads").bytes).toBeGreaterThanOrEqual(8000)

    const text = await cli(["cache", "list", "--kind", "downloads,envs"], { env: h.env })
    expect(text.stdout).toContain("KIND")
    expect(text.stdout).toMatch(/downloads\s+2\s+/)
    expect(text.stdout).toContain(`in ${h.home}`)
  }, 60_000)

  test("gc --older-than removes what was unused that long and leftovers; recent, in-use and foreign entries stay", async () => {
    const h = await populatedHome()
    age(join(h.downloads, `${h.key}.json`), 40)
    age(join(h.downloads, `${h.busyKey}.json`), 40)
    age(join(h.envs, `${h.envKey}.json`), 40)
    // A live process is filling the second download.
    const lock = await acquireLock(join(h.downloads, `${h.busyKey}.lock`))
    try {
      const { removed, summary } = await gc(h.env, ["--older-than", "30d", "--kind", "projects,pool,workdirs,downloads,parsed,envs,runs"])
      expect(removed.map((r) => `${r.kind} ${r.reason}`).sort()).toEqual(["downloads older", "envs older", "workdirs leftover"])
      expect(summary).toMatchObject({ removed: 3, busy: 1 })
    } finally {
      lock.release()
    }
    expect(existsSync(join(h.downloads, h.key))).toBe(false)
    expect(existsSync(join(h.downloads, `${h.key}.json`))).toBe(false)
    expect(existsSync(join(h.downloads, h.busyKey))).toBe(true)
    expect(existsSync(join(h.envs, h.envKey))).toBe(false)
    expect(existsSync(h.deadCopy)).toBe(false)
    for (const foreign of [join(h.downloads, "notes.txt"), join(h.downloads, "ef".repeat(20)), join(h.envs, "virtualenv-00000000000000ff"), join(h.envs, "mlflow-0123"), join(h.home, "projects", "git", "someone", "else")]) {
      expect(existsSync(foreign), foreign).toBe(true)
    }
    // The run's fetched tree, pooled copy and parsed records (MLproject, file digests) were used just now.
    expect((await listed(h.env, ["--kind", "projects,pool,parsed"])).map((k) => k.count)).toEqual([1, 1, 2])
  }, 60_000)

  test("gc --max-size removes the least recently used first until the total fits; a leased tree stays even at 0", async () => {
    const h = await populatedHome()
    const kinds = "projects,pool,downloads,parsed,envs"
    const before = await listed(h.env, ["--kind", kinds])
    const entries = before.flatMap((k) => k.entries.map((e) => ({ ...e, kind: k.kind })))
    // Ages by kind: the download is oldest, then the env, then the rest.
    age(join(h.downloads, `${h.key}.json`), 9)
    age(join(h.downloads, `${h.busyKey}.json`), 8)
    age(join(h.envs, `${h.envKey}.json`), 7)
    const total = entries.reduce((sum, e) => sum + e.bytes, 0)
    const first = await gc(h.env, ["--max-size", String(total - 1), "--kind", kinds])
    expect(first.removed.map((r) => r.id)).toEqual([h.key])
    expect(first.summary.remaining_bytes).toBeLessThan(total)

    const tree = (before.find((k) => k.kind === "projects") as Kind).entries[0] as Entry
    const lease = takeLease(`${tree.path}.leases`)
    try {
      const all = await gc(h.env, ["--max-size", "0", "--kind", kinds])
      expect(all.removed.map((r) => r.id)).toEqual([h.busyKey, h.envKey, ...all.removed.slice(2).map((r) => r.id)])
      expect(all.removed.some((r) => r.kind === "projects")).toBe(false)
      expect(all.summary.busy).toBe(1)
    } finally {
      lease.release()
    }
    expect(existsSync(join(tree.path, "meta.json"))).toBe(true)
    expect(readdirSync(h.downloads).sort()).toEqual(["ef".repeat(20), "notes.txt"])
    const last = await gc(h.env, ["--max-size", "0", "--kind", kinds])
    expect(last.removed.map((r) => r.kind)).toEqual(["projects"])
    expect(existsSync(tree.path)).toBe(false)
    // And the project is fetched again on its next run.
  }, 60_000)

  test.each([
    [["gc", "--older-than", "3x"], "--older-than"],
    [["gc", "--max-size", "lots"], "--max-size"],
    [["gc", "--kind", "nope"], "--kind"],
    [["list", "--max-size", "1G"], "--max-size"],
    [["prune"], "unknown action 'prune'"],
    [[], "needs an action"],
  ])("usage error %p exits 2 and names %s", async (args, named) => {
    const result = await cli(["cache", ...args])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(named)
  })
})

describe.skipIf(skipDocker)("mlproject cache: images built with --build-image", () => {
  if (skipDocker) console.warn(dockerSkipReason)
  test("are listed with their last use and removed by gc; an image also tagged by someone else stays", async () => {
    const home = mkdtempSync(join(tmpdir(), "mlproject-cacheimages-"))
    homes.push(home)
    const env = { ...process.env, MLPROJECT_HOME: home }
    const project = mkdtempSync(join(tmpdir(), "mlproject-cacheimg-proj-"))
    homes.push(project)
    const name = `cache-test-${process.pid}`
    const base = await testImage("busybox")
    writeFileSync(join(project, "a.txt"), "a")
    const image = await buildProjectImage({ baseImage: base, projectDir: project, projectName: name }, { docker: requireDocker(), env, emit: () => {} })
    writeFileSync(join(project, "a.txt"), "b")
    const shared = await buildProjectImage({ baseImage: base, projectDir: project, projectName: name }, { docker: requireDocker(), env, emit: () => {} })
    const tagged = await requireDocker().request("POST", `/images/${encodeURIComponent(shared.uri)}/tag`, { query: { repo: `${name}-theirs`, tag: "latest" } })
    expect(tagged.status).toBe(201)
    try {
      const kinds = await listed({ MLPROJECT_HOME: home }, ["--kind", "images"])
      const ours = (kinds[0] as Kind).entries.filter((e) => e.id.startsWith(`${name}:`))
      expect(ours.map((e) => e.id)).toEqual([image.uri])
      expect(Date.now() - Date.parse((ours[0] as Entry).last_used)).toBeLessThan(60_000)
      const { removed } = await gc({ MLPROJECT_HOME: home }, ["--kind", "images", "--max-size", "0"])
      expect(removed.filter((r) => r.id.startsWith(`${name}:`)).map((r) => r.id)).toEqual([image.uri])
      const gone = await requireDocker().request("GET", `/images/${encodeURIComponent(image.uri)}/json`)
      await gone.body?.cancel()
      expect(gone.status).toBe(404)
      const kept = await requireDocker().request("GET", `/images/${encodeURIComponent(shared.uri)}/json`)
      await kept.body?.cancel()
      expect(kept.status).toBe(200)
    } finally {
      await removeImage(shared.id)
      await removeImage(image.id)
    }
  }, 120_000)
})
