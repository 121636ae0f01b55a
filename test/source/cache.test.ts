// The fetch cache's lock and build rules: stale locks broken, waiters wait, interrupted builds leave nothing a later run trusts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs"
import { hostname } from "node:os"
import { join } from "node:path"
import { ToolError } from "../../src/errors.ts"
import { ensureEntry, publish, readEntry } from "../../src/source/cache.ts"
import { acquireLock } from "../../src/util/lock.ts"
import { fetchSource, home, leftovers, leftoversAfterCleanup, type Home } from "../lib/fetch.ts"
import { gitRepo, type GitRepo } from "../lib/git.ts"
import { gitDaemon, type GitDaemon } from "../lib/git-daemon.ts"
import { tmpdirFor } from "../lib/tmp.ts"

let repo: GitRepo
let daemon: GitDaemon

beforeAll(async () => {
  repo = gitRepo({ commits: 500 })
  daemon = await gitDaemon(repo.base)
})

afterAll(async () => {
  await daemon[Symbol.asyncDispose]()
  await repo[Symbol.asyncDispose]()
})

const meta = (id: string) => ({ kind: "archive" as const, id, root: "", source: "test", created: new Date().toISOString() })

/** A pid that is certainly dead: a child that has exited. */
const deadPid = async () => {
  const child = Bun.spawn(["true"])
  await child.exited
  return child.pid
}

describe("the entry lock (util/lock.ts)", () => {
  test("a lock left by a dead process on this host is broken at once", async () => {
    await using dir = tmpdirFor()
    const entry = join(dir.path, "abc")
    writeFileSync(`${entry}.lock`, JSON.stringify({ pid: await deadPid(), start: null, host: hostname(), since: Date.now(), token: "old", children: [] }))
    const started = performance.now()
    const built = await ensureEntry(entry, async (tmp) => {
      mkdirSync(join(tmp, "tree"))
      return meta("abc")
    })
    expect(performance.now() - started).toBeLessThan(2000)
    expect(built.cached).toBe(false)
    expect(readdirSync(dir.path)).toEqual(["abc"])
  })

  test("a live builder makes others wait, and they then use its entry", async () => {
    await using dir = tmpdirFor()
    const entry = join(dir.path, "abc")
    const held = await acquireLock(`${entry}.lock`)
    let waited = false
    const second = ensureEntry(entry, async () => meta("built twice"), { onWait: () => (waited = true) })
    await Bun.sleep(150)
    // The first builder finishes: it publishes, then lets go.
    const tmp = join(dir.path, ".abc.tmp-first")
    mkdirSync(join(tmp, "tree"), { recursive: true })
    publish(tmp, entry, meta("abc"))
    held.release()
    const result = await second
    expect(waited).toBe(true)
    expect(result).toMatchObject({ cached: true, entry: { meta: { id: "abc" } } })
  })

  test("waiting can be interrupted", async () => {
    await using dir = tmpdirFor()
    const entry = join(dir.path, "abc")
    const held = await acquireLock(`${entry}.lock`)
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 100)
    const error = await ensureEntry(entry, async () => meta("never"), { signal: controller.signal }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ToolError)
    expect(error).toMatchObject({ code: "source.interrupted", exitCode: 130 })
    held.release()
  })
})

describe("entries", () => {
  test("a failed build leaves no entry and no temp folder; a dead builder's temp folder is removed", async () => {
    await using dir = tmpdirFor()
    const entry = join(dir.path, "abc")
    mkdirSync(join(dir.path, ".abc.tmp-999999-dead"), { recursive: true })
    const error = await ensureEntry(entry, async (tmp) => {
      writeFileSync(join(tmp, "half"), "x")
      throw new Error("network gone")
    }).catch((e: Error) => e)
    expect((error as Error).message).toBe("network gone")
    expect(readdirSync(dir.path)).toEqual([])
    const built = await ensureEntry(entry, async (tmp) => {
      mkdirSync(join(tmp, "tree"))
      return meta("abc")
    })
    expect(built.cached).toBe(false)
    expect(readEntry(entry)?.meta.id).toBe("abc")
    expect(readdirSync(dir.path)).toEqual(["abc"])
    expect((await ensureEntry(entry, async () => meta("never"))).cached).toBe(true)
  })

  test("a git fetch interrupted half-way leaves nothing, and the next run fetches cleanly", async () => {
    await using h = home()
    const controller = new AbortController()
    const error = await fetchSource(h, `${daemon.url}/repo.git`, {
      version: repo.commit(250),
      signal: controller.signal,
      emit: (event) => {
        // Mid-transfer: git is running when the signal arrives.
        if (event.type === "fetch.progress" && event.phase.endsWith("objects")) controller.abort()
      },
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ToolError)
    expect((error as ToolError).exitCode).toBe(130)
    expect(await leftoversAfterCleanup(h)).toEqual([])
    expect(readdirSync(join(h.path, "projects", "git"), { recursive: true }).filter((p) => String(p).split("/").length === 2)).toEqual([])
    const { source, events } = await fetchSource(h, `${daemon.url}/repo.git`, { version: repo.commit(250) })
    expect(events.at(-1)).toMatchObject({ cached: false, commit: repo.commit(250) })
    await source.cleanup()
  })

  test("an interrupt while the run's folder is checked out leaves no folder; the cached objects serve the next run offline", async () => {
    await using h = home()
    const controller = new AbortController()
    const error = await fetchSource(h, `${daemon.url}/repo.git`, {
      version: repo.commit(260),
      signal: controller.signal,
      emit: (event) => {
        if (event.type === "fetch.progress" && event.phase === "checking out") controller.abort()
      },
    }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: "source.interrupted", exitCode: 130 })
    expect(await leftoversAfterCleanup(h)).toEqual([])
    const before = await daemon.requests()
    const { source, events } = await fetchSource(h, `${daemon.url}/repo.git`, { version: repo.commit(260) })
    expect(events.at(-1)).toMatchObject({ cached: true, commit: repo.commit(260) })
    expect(await daemon.requests()).toBe(before)
    expect(readFileSync(join(source.dir, "counter.txt"), "utf8")).toBe("260\n")
    await source.cleanup()
  })

  test("working copies of runs that died are reaped by the next run", async () => {
    await using h = home()
    const orphan = join(h.path, "projects", "runs", `${hostname().replace(/[^A-Za-z0-9.-]/g, "_")}-${await deadPid()}-zzzz`)
    mkdirSync(orphan, { recursive: true })
    const { source } = await fetchSource(h, `${daemon.url}/repo.git`, { version: repo.commit(10) })
    expect(existsSync(orphan)).toBe(false)
    await source.cleanup()
    expect(await leftoversAfterCleanup(h)).toEqual([])
  })
})

describe("the working-copy pool", () => {
  const inode = (path: string) => statSync(path).ino
  const fetchCommit = (h: Home) => fetchSource(h, `${daemon.url}/repo.git`, { version: repo.commit(20) })

  test("an untouched working copy is claimed by the next run of the same tree instead of copied again", async () => {
    await using h = home()
    const first = await fetchCommit(h)
    const file = readdirSync(first.source.dir).find((name) => statSync(join(first.source.dir, name)).isFile()) as string
    const firstInode = inode(join(first.source.dir, file))
    await first.source.cleanup()
    expect(readdirSync(join(h.path, "projects", "pool")).filter((n) => !n.endsWith(".json"))).toHaveLength(1)
    const second = await fetchCommit(h)
    expect(second.source.dir).not.toBe(first.source.dir)
    expect(inode(join(second.source.dir, file))).toBe(firstInode)
    await second.source.cleanup()
  })

  test.each([
    ["writes a new file", (dir: string) => writeFileSync(join(dir, "output.bin"), "x")],
    ["rewrites a file in place, restoring its size and mtime", (dir: string) => {
      const name = readdirSync(dir).find((n) => statSync(join(dir, n)).isFile()) as string
      const path = join(dir, name)
      const before = statSync(path)
      const content = readFileSync(path)
      writeFileSync(path, Buffer.from(content.map((byte) => byte ^ 1)))
      utimesSync(path, before.atime, before.mtime)
    }],
    ["deletes a file", (dir: string) => rmSync(join(dir, readdirSync(dir).find((n) => statSync(join(dir, n)).isFile()) as string))],
  ])("a copy whose run %s is never reused", async (_, change) => {
    await using h = home()
    const first = await fetchCommit(h)
    change(first.source.dir)
    const changed = snapshotOf(first.source.dir)
    await first.source.cleanup()
    const second = await fetchCommit(h)
    expect(snapshotOf(second.source.dir)).not.toEqual(changed)
    expect(existsSync(join(second.source.dir, "output.bin"))).toBe(false)
    await second.source.cleanup()
    expect(await leftoversAfterCleanup(h)).toEqual([])
  })
})

/** File names and contents below a folder, to compare what two runs were given. */
const snapshotOf = (dir: string): Record<string, string> =>
  Object.fromEntries(
    (readdirSync(dir, { recursive: true }) as string[])
      .filter((p) => statSync(join(dir, p)).isFile())
      .map((p) => [p, readFileSync(join(dir, p), "utf8")]),
  )
