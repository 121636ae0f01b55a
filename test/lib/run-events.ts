// The JSON-lines events of a `--json` command, and the check that a run went through to FINISHED cleanly.
import { expect } from "bun:test"
import type { CliResult } from "./cli.ts"

export const jsonEvents = (stdout: string): Array<Record<string, any>> =>
  stdout
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, any>)

/** Exit 0, nothing on stderr, `run.finished` FINISHED: the events and the run id. */
export const expectFinished = (result: CliResult): { all: Array<Record<string, any>>; runId: string } => {
  expect(result.stderr).toBe("")
  expect(result.code).toBe(0)
  const all = jsonEvents(result.stdout)
  const finished = all.find((e) => e.type === "run.finished")
  expect(finished?.status).toBe("FINISHED")
  return { all, runId: finished?.run_id as string }
}
