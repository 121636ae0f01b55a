// The lock as the file store uses it: one holder at a time, abandoned locks recovered, a bounded wait with a clear error.
import { expect, test } from "bun:test"
import { existsSync, readdirSync, utimesSync, writeFileSync } from "node:fs"
import { hostname } from "node:os"
import { join } from "node:path"
import { isToolError } from "../../src/errors.ts"
import { withLock } from "../../src/util/lock.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const deadPid = (): number => {
  const child = Bun.spawnSync(["sh", "-c", "echo $$"])
  return Number(child.stdout.toString().trim())
}

test("holders never overlap, and the lock file is gone afterwards", async () => {
  await using dir = tmpdirFor()
  const lock = join(dir.path, "x.lock")
  let inside = 0
  let most = 0
  await Promise.all(
    Array.from({ length: 20 }, () =>
      withLock(lock, async () => {
        inside++
        most = Math.max(most, inside)
        await Bun.sleep(1)
        inside--
      }),
    ),
  )
  expect(most).toBe(1)
  expect(readdirSync(dir.path)).toEqual([])
})

test("a lock left by a process that no longer exists is taken over at once", async () => {
  await using dir = tmpdirFor()
  const lock = join(dir.path, "x.lock")
  writeFileSync(lock, JSON.stringify({ pid: deadPid(), start: null, host: hostname(), since: Date.now(), token: "t", children: [] }))
  const started = Date.now()
  expect(await withLock(lock, () => "ran", { timeoutMs: 5000 })).toBe("ran")
  expect(Date.now() - started).toBeLessThan(1000)
  expect(readdirSync(dir.path)).toEqual([])
})

test("another host's lock older than foreignStaleMs is taken over", async () => {
  await using dir = tmpdirFor()
  const lock = join(dir.path, "x.lock")
  writeFileSync(lock, JSON.stringify({ pid: 1, start: null, host: "other-host", since: Date.now() - 60_000, token: "t", children: [] }))
  expect(await withLock(lock, () => "ran", { timeoutMs: 5000, foreignStaleMs: 30_000 })).toBe("ran")
})

test("an unreadable lock file counts as held until it is 2 s old", async () => {
  await using dir = tmpdirFor()
  const lock = join(dir.path, "x.lock")
  writeFileSync(lock, "")
  const old = new Date(Date.now() - 10_000)
  utimesSync(lock, old, old)
  expect(await withLock(lock, () => "ran", { timeoutMs: 2000 })).toBe("ran")
})

test("a live holder makes others wait, then fail with a clear error", async () => {
  await using dir = tmpdirFor()
  const lock = join(dir.path, "x.lock")
  writeFileSync(lock, JSON.stringify({ pid: process.ppid, start: null, host: hostname(), since: Date.now(), token: "t", children: [] }))
  const error = await withLock(lock, () => "ran", { timeoutMs: 300, what: "tracking.lock" }).catch((e: unknown) => e)
  if (!isToolError(error)) throw error
  expect(error.code).toBe("tracking.lock.timeout")
  expect(error.message).toContain(`held by process ${process.ppid} on ${hostname()}`)
  expect(error.hint).toContain(`delete ${lock}`)
  expect(existsSync(lock)).toBe(true) // never removes a lock it does not hold
})
