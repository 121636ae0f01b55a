// The local backend: the entry command in its own process group under a subreaper; what it leaves behind is stopped.
import { ownChildren, start } from "../util/exec.ts"
import { signalProcess, signalTree, treeGone, treeMembers } from "../util/process-tree.ts"
import { becomeSubreaper } from "../util/subreaper.ts"
import { escalateInterrupts } from "./interrupts.ts"
import type { RunControl, RunHandle, RunOutcome } from "./types.ts"

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

export const startLocal = async (launch: LocalLaunch): Promise<RunHandle> => {
  // Before the start: a descendant that detaches (setsid, double fork) must be re-parented to us, not to init.
  await becomeSubreaper()
  const handle = start(launch.argv, {
    cwd: launch.cwd,
    env: launch.env,
    group: true,
    stdin: "inherit",
    output: launch.captureOutput ? "lines" : "inherit",
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
  return { pid: leader, wait }
}
