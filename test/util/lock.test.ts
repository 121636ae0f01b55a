// The build lock: waits for a live holder, breaks a dead one's (pid gone, pid reused, never written).
import { describe, expect, test } from "bun:test"
import { existsSync, mkdtempSync, utimesSync, writeFileSync } from "node:fs"
import { hostname, tmpdir } from "node:os"
import { join } from "node:path"
import { acquireLock, processStart, tryLock } from "../../src/util/lock.ts"

const lockPath = () => join(mkdtempSync(join(tmpdir(), "mlproject-lock-")), "env.lock")

const deadPid = async (): Promise<number> => {
  const child = Bun.spawn(["true"])
  await child.exited
  return child.pid
}

const holderJson = (pid: number, start: string | null) =>
  JSON.stringify({ pid, start, host: hostname(), since: Date.now(), token: "t", children: [] })

describe("lock", () => {
  test("a second taker waits for the holder, is told once, and gets the lock when it is released", async () => {
    const path = lockPath()
    const first = await acquireLock(path)
    expect(await tryLock(path)).toBeNull()
    const waits: Array<number | null> = []
    const second = acquireLock(path, { onWait: (holder) => waits.push(holder?.pid ?? null), pollMs: 20 })
    await Bun.sleep(150)
    first.release()
    const lock = await second
    expect(waits).toEqual([process.pid])
    lock.release()
    expect(existsSync(path)).toBe(false)
  })

  test("a lock whose process is gone is taken over", async () => {
    const path = lockPath()
    writeFileSync(path, holderJson(await deadPid(), null))
    const lock = await tryLock(path)
    expect(lock?.holder.pid).toBe(process.pid)
    lock?.release()
  })

  test("a lock naming a live pid with another start time (the pid was reused) is taken over", async () => {
    const path = lockPath()
    expect(processStart(process.pid)).not.toBeNull()
    writeFileSync(path, holderJson(process.pid, "1"))
    const lock = await tryLock(path)
    expect(lock).not.toBeNull()
    lock?.release()
  })

  test("a lock file its creator never wrote is waited on briefly, then taken over", async () => {
    const path = lockPath()
    writeFileSync(path, "")
    expect(await tryLock(path)).toBeNull()
    const past = new Date(Date.now() - 5000)
    utimesSync(path, past, past)
    const lock = await tryLock(path)
    expect(lock).not.toBeNull()
    lock?.release()
  })

  test("an aborted wait stops waiting", async () => {
    const path = lockPath()
    const held = await acquireLock(path)
    const controller = new AbortController()
    const waiting = acquireLock(path, { signal: controller.signal, pollMs: 20, what: "env" })
    controller.abort()
    await expect(waiting).rejects.toMatchObject({ code: "env.interrupted", exitCode: 130 })
    held.release()
  })
})
