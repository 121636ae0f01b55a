// The run ends when its entry point's leader does, in every output mode; what it leaves behind (background jobs, setsid daemons) is stopped.
import { describe, expect, test } from "bun:test"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { requireBinary, startRun } from "../lib/cli.ts"
import { readRun, runIds } from "../lib/mlruns.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const linux = process.platform === "linux"

/** Live (non-zombie) processes whose command line holds `marker`, read from /proc independently of our helper. */
const aliveWith = (marker: string): number[] =>
  readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8")
        if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) return false
        return readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").includes(marker)
      } catch {
        return false
      }
    })
    .map(Number)

const runBinary = async (cwd: string, args: string[]) => {
  const started = performance.now()
  const child = Bun.spawn([requireBinary(), "run", ...args], { cwd, stdout: "pipe", stderr: "pipe", stdin: "ignore" })
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited])
  return { code, stdout, stderr, ms: performance.now() - started }
}

const onlyRun = (mlruns: string) => {
  const ids = runIds(mlruns, "0")
  expect(ids).toHaveLength(1)
  return readRun(mlruns, "0", ids[0] as string)
}

// Each case leaves something behind that would hold the output pipe (and the run) open for 30 s.
const leftovers = [
  { name: "a background subshell", command: (m: string) => `(sleep ${m} &) ; echo done` },
  { name: "a setsid daemon", command: (m: string) => `setsid sleep ${m} & echo done` },
  { name: "a double-forked setsid daemon with its own pipes", command: (m: string) => `(setsid sh -c 'sleep ${m}' &) ; echo done` },
  { name: "a nohup job", command: (m: string) => `nohup sleep ${m} >/dev/null 2>&1 & echo done` },
]

describe.skipIf(!linux)("a run's leftover processes", () => {
  for (const mode of ["text", "--json", "--events"] as const) {
    test.each(leftovers)(`${mode}: $name is stopped when the leader exits; the run ends at once`, async ({ command }) => {
      await using dir = tmpdirFor()
      const marker = `30.${Math.floor(Math.random() * 1e6)}`
      dir.write("project/MLproject", `entry_points:\n  main:\n    command: "${command(marker).replaceAll('"', '\\"')}"\n`)
      const extra = mode === "text" ? [] : mode === "--json" ? ["--json"] : ["--events", join(dir.path, "events.jsonl")]
      const result = await runBinary(dir.path, ["project", ...extra])
      expect(result.code).toBe(0)
      expect(result.ms).toBeLessThan(3000)
      expect(aliveWith(marker)).toEqual([])
      const run = onlyRun(join(dir.path, "mlruns"))
      expect(run.meta.status).toBe(3)
      // The recorded end time is the leader's exit, whatever the output mode: well under the leftover's 30 s.
      expect(Number(run.meta.end_time) - Number(run.meta.start_time)).toBeLessThan(2000)
    })
  }

  test("a leftover that ignores SIGTERM is killed when --grace runs out; the end time is still the leader's exit", async () => {
    await using dir = tmpdirFor()
    const marker = `31.${Math.floor(Math.random() * 1e6)}`
    dir.write("project/MLproject", `entry_points:\n  main:\n    command: "(trap '' TERM INT HUP; exec sleep ${marker}) & sleep 0.1; echo done"\n`)
    const result = await runBinary(dir.path, ["project", "--grace", "1", "--json"])
    expect(result.code).toBe(0)
    expect(result.ms).toBeGreaterThan(900)
    expect(result.ms).toBeLessThan(4000)
    expect(aliveWith(marker)).toEqual([])
    const events = result.stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(events.some((e) => e.type === "run.signal" && e.signal === "SIGKILL")).toBe(true)
    expect(events.at(-1)).toMatchObject({ type: "run.finished", status: "FINISHED", exit_code: 0 })
    const run = onlyRun(join(dir.path, "mlruns"))
    expect(Number(run.meta.end_time) - Number(run.meta.start_time)).toBeLessThan(900)
  })

  test("a process forked while the leftovers are being stopped gets SIGTERM too (no wait for the grace period)", async () => {
    await using dir = tmpdirFor()
    const marker = `34.${Math.floor(Math.random() * 1e6)}`
    // On SIGTERM the leftover starts a new child and exits: that child was never part of the first round of signals.
    dir.write("project/MLproject", `entry_points:\n  main:\n    command: "(trap '(exec sleep ${marker}) & exit 0' TERM; while :; do sleep 0.05; done) & sleep 0.2; echo done"\n`)
    const result = await runBinary(dir.path, ["project", "--json"])
    expect(result.code).toBe(0)
    expect(result.ms).toBeLessThan(3000)
    expect(aliveWith(marker)).toEqual([])
  })

  test("an interrupt while a stubborn leftover is being stopped kills it at once", async () => {
    await using dir = tmpdirFor()
    const marker = `32.${Math.floor(Math.random() * 1e6)}`
    dir.write("project/MLproject", `entry_points:\n  main:\n    command: "(trap '' TERM INT HUP; exec sleep ${marker}) & echo ready"\n`)
    const run = startRun(dir.path, ["project", "--grace", "60"])
    await run.ready
    await Bun.sleep(300)
    const sentAt = performance.now()
    run.child.kill("SIGINT")
    const code = await run.child.exited
    await run.reading
    expect(performance.now() - sentAt).toBeLessThan(1500)
    expect(aliveWith(marker)).toEqual([])
    // The leader had already finished: its outcome stands.
    expect(code).toBe(0)
    expect(run.events.at(-1)).toMatchObject({ type: "run.finished", status: "FINISHED" })
  })

  test("an interrupt reaches descendants that left the process group with setsid", async () => {
    await using dir = tmpdirFor()
    const marker = `33.${Math.floor(Math.random() * 1e6)}`
    dir.write("project/MLproject", `entry_points:\n  main:\n    command: "setsid sleep ${marker} & (setsid sh -c 'sleep ${marker}' &); echo ready; wait"\n`)
    const run = startRun(dir.path, ["project", "--grace", "1"])
    await run.ready
    await Bun.sleep(200)
    expect(aliveWith(marker).length).toBe(2)
    run.child.kill("SIGINT")
    expect(await run.child.exited).toBe(130)
    await run.reading
    expect(aliveWith(marker)).toEqual([])
    expect(run.events.at(-1)).toMatchObject({ type: "run.finished", status: "KILLED" })
  })
})
