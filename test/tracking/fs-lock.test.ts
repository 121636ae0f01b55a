// The lock file: one holder at a time, abandoned locks recovered, a bounded wait with a clear error.
import { expect, test } from "bun:test"
import { existsSync, readdirSync, utimesSync, writeFileSync } from "node:fs"
import { hostname } from "node:os"
import { join } from "node:path"
import { isToolError } from "../../src/errors.ts"
import { withLockFile } from "../../src/tracking/fs-lock.ts"
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
      withLockFile(lock, async () => {
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
  writeFileSync(lock, `${deadPid()}\n${hostname()}\n${Date.now()}\nsometoken\n`)
  const started = Date.now()
  expect(await withLockFile(lock, () => "ran", { timeoutMs: 5000 })).toBe("ran")
  expect(Date.now() - started).toBeLessThan(1000)
  expect(readdirSync(dir.path)).toEqual([])
})

test("a lock older than staleMs is taken over, even from another host", async () => {
  await using dir = tmpdirFor()
  const lock = join(dir.path, "x.lock")
  writeFileSync(lock, `1\nother-host\n${Date.now() - 60_000}\nsometoken\n`)
  expect(await withLockFile(lock, () => "ran", { timeoutMs: 5000, staleMs: 30_000 })).toBe("ran")
})

test("an empty lock file counts as held until it is older than staleMs", async () => {
  await using dir = tmpdirFor()
  const lock = join(dir.path, "x.lock")
  writeFileSync(lock, "")
  const old = new Date(Date.now() - 10_000)
  utimesSync(lock, old, old)
  expect(await withLockFile(lock, () => "ran", { timeoutMs: 2000, staleMs: 5000 })).toBe("ran")
})

test("a live holder makes others wait, then fail with a clear error", async () => {
  await using dir = tmpdirFor()
  const lock = join(dir.path, "x.lock")
  writeFileSync(lock, `${process.ppid}\n${hostname()}\n${Date.now()}\nsometoken\n`)
  const error = await withLockFile(lock, () => "ran", { timeoutMs: 300 }).catch((e: unknown) => e)
  if (!isToolError(error)) throw error
  expect(error.code).toBe("tracking.lock.timeout")
  expect(error.message).toContain(`held by process ${process.ppid} on ${hostname()}`)
  expect(error.hint).toContain(`delete ${lock}`)
  expect(existsSync(lock)).toBe(true) // never removes a lock it does not hold
})
