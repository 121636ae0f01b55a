// The local backend: the entry command in its own process group under a subreaper; what it leaves behind is stopped.
import { ownChildren, start } from "../util/exec.ts"
import { processStart } from "../util/owner.ts"
import { signalProcess, signalTree, treeGone, treeMembers } from "../util/process-tree.ts"
import { becomeSubreaper } from "../util/subreaper.ts"
import { escalateInterrupts } from "./interrupts.ts"
import { prepareLocal } from "./local-prepare.ts"
import type { Backend, BackendRecord, RunControl, RunHandle, RunOutcome } from "./types.ts"

export type LocalLaunch = RunControl & {
  argv: string[]
  cwd: string
  env: Record<string, string | undefined>
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

// Once the tree is gone its pipes close at once; this only bounds a writer we cannot reach (macOS, a daemon's child).
const outputDrainMs = 250
// SIGKILL cannot be refused, but a process in uninterruptible sleep dies only when its I/O returns.
const afterKillMs = 2000

const execOutput = (output: RunControl["output"]) =>
  output.to === "events" ? ({ output: "lines" } as const) : output.to === "file" ? ({ output: { fd: output.fd } } as const) : ({ output: "inherit" } as const)

export const startLocal = async (launch: LocalLaunch): Promise<RunHandle> => {
  // Before the start: a descendant that detaches (setsid, double fork) must be re-parented to us, not to init.
  await becomeSubreaper()
  const handle = start(launch.argv, {
    cwd: launch.cwd,
    env: launch.env,
    group: true,
    // A detached run has no terminal to read from.
    stdin: launch.output.to === "file" ? "ignore" : "inherit",
    ...execOutput(launch.output),
    onLine: (stream, line) => launch.emit({ type: "log", stream, line }),
  })
  const leader = handle.pid
  const escalation = escalateInterrupts(launch, {
    forward: (signal) => void signalTree(leader, ownChildren(), signal as NodeJS.Signals),
    kill: () => void signalTree(leader, ownChildren(), "SIGKILL"),
  })

  /**
   * Waits until nothing of the tree is alive. A process that appears while we wait (a child forked just before its
   * parent got SIGTERM, then re-parented to us) gets SIGTERM too; after the kill every member gets SIGKILL; the
   * wait after a kill is bounded.
   */
  const stopRemaining = async (): Promise<void> => {
    if (treeGone(leader, ownChildren())) return
    const told = new Set(treeMembers(leader, ownChildren()) ?? [])
    escalation.stopRemaining()
    let killedAt: number | null = null
    for (;;) {
      if (treeGone(leader, ownChildren())) return
      const members = treeMembers(leader, ownChildren())
      if (escalation.killed()) {
        killedAt ??= Date.now()
        if (Date.now() - killedAt > afterKillMs) return
        signalTree(leader, ownChildren(), "SIGKILL")
      } else {
        for (const pid of (members ?? []).filter((pid) => !told.has(pid))) {
          told.add(pid)
          signalProcess(pid, "SIGTERM")
        }
      }
      await sleep(20)
    }
  }

  const wait = async (): Promise<RunOutcome> => {
    await handle.exited
    // The run ends when its leader does, whatever still holds the output pipe.
    const endedAt = Date.now()
    try {
      await stopRemaining()
    } finally {
      escalation.detach()
    }
    const drained = setTimeout(() => handle.closeOutput(), outputDrainMs)
    const result = await handle.done
    clearTimeout(drained)
    return { exitCode: result.code, signal: result.signal, interrupted: escalation.interrupted(), endedAt }
  }
  return { pid: leader, record: { backend: "local", pgid: leader, start: processStart(leader) }, wait }
}

type LocalRecord = Extract<BackendRecord, { backend: "local" }>

/**
 * The group still has a live member (zombies do not count: PID 1 here may never reap them), and its leader, if still
 * there, is the process the record names rather than a reused pid.
 */
const groupAlive = (record: LocalRecord): boolean => {
  const live = treeMembers(record.pgid, new Set())
  if (live === null) {
    try {
      process.kill(-record.pgid, 0)
    } catch {
      return false
    }
  } else if (live.length === 0) return false
  const start = processStart(record.pgid)
  return start === null || record.start === null || start === record.start
}

export const localBackend: Backend = {
  prepare: prepareLocal,
  async start(spec, env, control) {
    if (spec.backend !== "local") throw new Error(`a ${spec.backend} launch reached the local backend`)
    return startLocal({ ...control, argv: spec.argv, cwd: spec.cwd, env })
  },
  async alive(record) {
    return record.backend === "local" && groupAlive(record)
  },
  async stop(record, _env, graceMs) {
    if (record.backend !== "local" || !groupAlive(record)) return
    signalProcess(-record.pgid, "SIGTERM")
    for (let waited = 0; waited < graceMs && groupAlive(record); waited += 50) await sleep(50)
    if (groupAlive(record)) signalProcess(-record.pgid, "SIGKILL")
  },
}
