// Shared leases: many holders at once, a gone holder's lease ignored and cleared, foreign files left alone.
import { expect, test } from "bun:test"
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { dropLeaseDir, liveLeases, takeLease, tryLease } from "../../src/util/lease.ts"
import { hostTag } from "../../src/util/owner.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const deadPid = async (): Promise<number> => {
  const child = Bun.spawn(["true"])
  await child.exited
  return child.pid
}

test("leases are shared; a released last lease removes its folder", async () => {
  await using dir = tmpdirFor()
  const leases = join(dir.path, "entry.leases")
  const a = takeLease(leases)
  const b = takeLease(leases)
  expect(liveLeases(leases).map((o) => o.pid)).toEqual([process.pid, process.pid])
  expect(liveLeases(leases, { exceptOwn: true })).toEqual([])
  a.release()
  expect(liveLeases(leases)).toHaveLength(1)
  b[Symbol.dispose]()
  expect(existsSync(leases)).toBe(false)
})

test("a lease of a process that is gone does not count and is deleted; other files stay", async () => {
  await using dir = tmpdirFor()
  const leases = join(dir.path, "entry.leases")
  mkdirSync(leases)
  writeFileSync(join(leases, `${hostTag()}-${await deadPid()}-1-00000000.lease`), "")
  writeFileSync(join(leases, "README"), "not a lease")
  // Another host's lease cannot be checked by pid: it counts.
  writeFileSync(join(leases, `${hostTag("elsewhere")}-1-1-00000000.lease`), "")
  expect(liveLeases(leases).map((o) => o.host)).toEqual([hostTag("elsewhere")])
  expect(readdirSync(leases).sort()).toEqual([`${hostTag("elsewhere")}-1-1-00000000.lease`, "README"])
  dropLeaseDir(leases)
  expect(existsSync(leases)).toBe(true)
})

test("tryLease gives null where no lease can be written", async () => {
  await using dir = tmpdirFor()
  writeFileSync(join(dir.path, "file"), "")
  expect(tryLease(join(dir.path, "file", "leases"))).toBeNull()
})
