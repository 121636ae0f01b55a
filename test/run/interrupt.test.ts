// Interrupts: the whole process tree stops, the run is KILLED, exit 130; a stubborn tree is killed after --grace.
import { describe, expect, test } from "bun:test"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { startRun } from "../lib/cli.ts"
import { readRun } from "../lib/mlruns.ts"
import { tmpdirFor } from "../lib/tmp.ts"

/** Live (non-zombie) members of a process group, read from /proc independently of our own helper. */
const groupAlive = (pgid: number): boolean =>
  readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .some((entry) => {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8")
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
        return Number(fields[2]) === pgid && fields[0] !== "Z"
      } catch {
        return false
      }
    })

describe("interrupting a run", () => {
  // Background jobs of a non-interactive bash ignore SIGINT; one grandchild ignores TERM as well.
  const tree = `sleep 300 & (trap '' TERM INT; sleep 300) & sleep 300 & echo ready; wait`

  // The grandchild that ignores TERM gets its grace period (1 s here), then it is killed.
  test.each(["SIGINT", "SIGTERM", "SIGHUP"] as const)("%s stops every process of the tree within the grace period, KILLED, exit 130", async (signal) => {
    await using dir = tmpdirFor()
    dir.write("project/MLproject", `entry_points:\n  main:\n    command: "${tree}"\n`)
    const run = startRun(dir.path, ["project", "--grace", "1"])
    await run.ready
    const started = run.events.find((e) => e.type === "run.started") as Record<string, unknown>
    const pgid = started.pid as number
    expect(groupAlive(pgid)).toBe(true)
    const sentAt = performance.now()
    run.child.kill(signal)
    const code = await run.child.exited
    await run.reading
    expect(code).toBe(130)
    expect(performance.now() - sentAt).toBeLessThan(2500)
    expect(groupAlive(pgid)).toBe(false)
    const done = run.events.at(-1) as Record<string, unknown>
    expect(done).toMatchObject({ type: "run.finished", status: "KILLED", signal })
    expect(readRun(join(dir.path, "mlruns"), "0", done.run_id as string).meta.status).toBe(5)
  })

  test("an entry point that ignores the signal is killed when --grace runs out", async () => {
    await using dir = tmpdirFor()
    dir.write("project/MLproject", `entry_points:\n  main:\n    command: "trap '' INT TERM; echo ready; while true; do sleep 0.1; done"\n`)
    const run = startRun(dir.path, ["project", "--grace", "0.5"])
    await run.ready
    const sentAt = performance.now()
    run.child.kill("SIGINT")
    expect(await run.child.exited).toBe(130)
    await run.reading
    const elapsed = performance.now() - sentAt
    expect(elapsed).toBeGreaterThan(450)
    expect(elapsed).toBeLessThan(2500)
    expect(run.events.some((e) => e.type === "run.signal" && e.action === "killed")).toBe(true)
    expect(run.events.at(-1)).toMatchObject({ type: "run.finished", status: "KILLED" })
  })
})
