// Fifty real processes record runs into one mlruns folder at once: every run complete, one experiment.
import { expect, test } from "bun:test"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { createFileStore } from "../../src/tracking/file-store.ts"
import { parseMetaYaml } from "../../src/tracking/meta-yaml.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const worker = join(import.meta.dir, "fixtures", "store-worker.ts")
const processes = 50

test(`${processes} processes at once, half creating the same new experiment`, async () => {
  await using dir = tmpdirFor()
  // The store folder does not exist yet: Default is created lazily, by whichever process is first.
  const root = join(dir.path, "mlruns")
  const children = Array.from({ length: processes }, (_, i) =>
    Bun.spawn([process.execPath, worker, root, i % 2 === 0 ? "shared experiment" : "", String(i)], {
      stdout: "pipe",
      stderr: "pipe",
    }),
  )
  const results = await Promise.all(
    children.map(async (child) => ({
      code: await child.exited,
      out: await new Response(child.stdout).text(),
      err: await new Response(child.stderr).text(),
    })),
  )
  expect(results.filter((r) => r.code !== 0).map((r) => r.err)).toEqual([])
  const runs = results.map((r) => JSON.parse(r.out) as { run_id: string; experiment_id: string; worker: string })
  expect(new Set(runs.map((r) => r.run_id)).size).toBe(processes)

  const files = (readdirSync(root, { recursive: true }) as string[]).sort()
  expect(files.filter((p) => p.includes(".mlproject"))).toEqual([]) // no lock, temp file or staging folder left
  for (const meta of files.filter((p) => p.endsWith("meta.yaml"))) {
    expect(() => parseMetaYaml(readFileSync(join(root, meta), "utf8"), meta)).not.toThrow()
  }

  const store = createFileStore(root)
  const experiments = readdirSync(root).filter((name) => name !== ".trash")
  const named = experiments.filter((id) => readFileSync(join(root, id, "meta.yaml"), "utf8").includes("name: shared experiment\n"))
  expect(named.length).toBe(1)
  expect(experiments.sort()).toEqual(["0", ...named].sort())
  const sharedId = named[0] ?? ""
  expect(new Set(runs.filter((r) => Number(r.worker) % 2 === 0).map((r) => r.experiment_id))).toEqual(new Set([sharedId]))

  for (const { run_id, experiment_id, worker: n } of runs) {
    const run = await store.getRun(run_id)
    expect(run.info).toMatchObject({ experiment_id, status: "FINISHED", run_name: `worker-${n}` })
    expect(Object.keys(run.data.params).length).toBe(10)
    expect(run.data.params.param_3).toBe(`${n}:3`)
    expect(run.data.tags["tag/9"]).toBe(`${n}:9`)
    expect(run.data.metrics.shared?.value).toBe(Number(n))
  }
  expect(readdirSync(join(root, "0")).filter((name) => name !== "meta.yaml").length).toBe(processes / 2)
  expect(readdirSync(join(root, sharedId)).filter((name) => name !== "meta.yaml").length).toBe(processes / 2)
}, 60_000)
