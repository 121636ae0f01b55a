// The local backend: the entry command in its own process group, interrupts forwarded, stragglers reaped.
import { start } from "../util/exec.ts"
import { groupAlive } from "../util/process-group.ts"
import { escalateInterrupts } from "./interrupts.ts"
import type { RunControl, RunHandle, RunOutcome } from "./types.ts"

export type LocalLaunch = RunControl & {
  argv: string[]
  cwd: string
  env: Record<string, string | undefined>
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Background jobs of a non-interactive bash ignore SIGINT, so after the leader exits we TERM and then
 * KILL whatever is left of the group: an interrupted run leaves no process behind.
 */
const reapGroup = async (pid: number): Promise<void> => {
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal)
    } catch {
      // Nothing left to signal.
    }
  }
  if (!groupAlive(pid)) return
  signalGroup("SIGTERM")
  for (let waited = 0; waited < 1000 && groupAlive(pid); waited += 25) await sleep(25)
  if (groupAlive(pid)) signalGroup("SIGKILL")
  for (let waited = 0; waited < 1000 && groupAlive(pid); waited += 10) await sleep(10)
}

export const startLocal = (launch: LocalLaunch): RunHandle => {
  const handle = start(launch.argv, {
    cwd: launch.cwd,
    env: launch.env,
    group: true,
    stdin: "inherit",
    output: launch.captureOutput ? "lines" : "inherit",
    onLine: (stream, line) => launch.emit({ type: "log", stream, line }),
  })

  const escalation = escalateInterrupts(launch, {
    forward: (signal) => handle.kill(signal as NodeJS.Signals),
    kill: () => handle.kill("SIGKILL"),
  })

  const wait = async (): Promise<RunOutcome> => {
    await handle.exited
    escalation.detach()
    const interrupted = escalation.interrupted()
    // Reap before draining output: a surviving grandchild would hold the pipes open.
    if (interrupted) await reapGroup(handle.pid)
    const result = await handle.done
    return { exitCode: result.code, signal: result.signal, interrupted }
  }
  return { pid: handle.pid, wait }
}
