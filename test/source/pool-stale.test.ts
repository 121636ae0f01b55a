// A pooled working copy is proved unchanged when a run claims it: a change made after its run returned it is never executed.
import { expect, test } from "bun:test"
import { appendFileSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { cli } from "../lib/cli.ts"
import { gitRepo } from "../lib/git.ts"
import { readRun } from "../lib/mlruns.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const stdoutLines = (events: Array<Record<string, unknown>>) => events.filter((e) => e.type === "log" && e.stream === "stdout").map((e) => e.line)

// What a process left behind by the earlier run (or anything else on the machine) might do to the pooled copy.
const changes: Array<[string, (copy: string) => void]> = [
  ["appends to the code", (copy) => appendFileSync(join(copy, "counter.txt"), "tampered\n")],
  [
    "rewrites a file in place, restoring its size and mtime",
    (copy) => {
      const path = join(copy, "counter.txt")
      const before = statSync(path)
      writeFileSync(path, Buffer.from(readFileSync(path).map((byte) => (byte === 0x0a ? byte : byte ^ 1))))
      utimesSync(path, before.atime, before.mtime)
    },
  ],
  ["deletes a file", (copy) => rmSync(join(copy, "counter.txt"))],
]

test.each(changes)("a pooled copy whose leftover process %s after its run is not reused", async (_, change) => {
  await using repo = gitRepo({ commits: 3 })
  await using dir = tmpdirFor()
  const env = { MLPROJECT_HOME: join(dir.path, "home") }
  const args = ["run", repo.path, "-v", repo.commit(2), "--json"]
  const first = await cli(args, { cwd: dir.path, env })
  expect(first.code).toBe(0)
  const pool = join(dir.path, "home", "projects", "pool")
  const copies = readdirSync(pool).filter((name) => !name.endsWith(".json"))
  expect(copies).toHaveLength(1)
  change(join(pool, copies[0] as string))

  const second = await cli(args, { cwd: dir.path, env })
  expect(second.code).toBe(0)
  expect(stdoutLines(second.events)).toEqual(stdoutLines(first.events))
  const done = second.events.at(-1) as Record<string, unknown>
  const run = readRun(join(dir.path, "mlruns"), "0", done.run_id as string)
  expect(run.tags["mlflow.source.git.commit"]).toBe(repo.commit(2))
})

test("an untouched pooled copy is still reused (the proof does not refuse every copy)", async () => {
  await using repo = gitRepo({ commits: 3 })
  await using dir = tmpdirFor()
  const env = { MLPROJECT_HOME: join(dir.path, "home") }
  const args = ["run", repo.path, "-v", repo.commit(2), "--json"]
  expect((await cli(args, { cwd: dir.path, env })).code).toBe(0)
  const pool = join(dir.path, "home", "projects", "pool")
  const [copy] = readdirSync(pool).filter((name) => !name.endsWith(".json"))
  const inode = statSync(join(pool, copy as string, "counter.txt")).ino
  const second = await cli([...args.slice(0, -1), "-e", "main", "--json"], { cwd: dir.path, env })
  expect(second.code).toBe(0)
  // The same inode came back to the pool: the second run used the claimed copy rather than a fresh one.
  const [again] = readdirSync(pool).filter((name) => !name.endsWith(".json"))
  expect(statSync(join(pool, again as string, "counter.txt")).ino).toBe(inode)
})
