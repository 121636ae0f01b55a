// Reads an mlruns folder as raw files (independently of our store) so tests check the on-disk format itself.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { join, relative } from "node:path"
import { parse } from "yaml"

export type RawRun = {
  dir: string
  meta: Record<string, unknown>
  metaText: string
  params: Record<string, string>
  tags: Record<string, string>
  metrics: Record<string, string>
}

const filesUnder = (dir: string): Record<string, string> => {
  if (!existsSync(dir)) return {}
  const out: Record<string, string> = {}
  const walk = (current: string) => {
    for (const name of readdirSync(current)) {
      const path = join(current, name)
      if (statSync(path).isDirectory()) walk(path)
      else out[relative(dir, path)] = readFileSync(path, "utf8")
    }
  }
  walk(dir)
  return out
}

export const readRun = (mlruns: string, experimentId: string, runId: string): RawRun => {
  const dir = join(mlruns, experimentId, runId)
  const metaText = readFileSync(join(dir, "meta.yaml"), "utf8")
  return {
    dir,
    meta: parse(metaText, { version: "1.1" }) as Record<string, unknown>,
    metaText,
    params: filesUnder(join(dir, "params")),
    tags: filesUnder(join(dir, "tags")),
    metrics: filesUnder(join(dir, "metrics")),
  }
}

/** Experiment folders (digit names) with their parsed meta.yaml. */
export const experiments = (mlruns: string): Array<{ id: string; meta: Record<string, unknown> }> =>
  readdirSync(mlruns)
    .filter((name) => /^\d+$/.test(name))
    .map((id) => ({ id, meta: parse(readFileSync(join(mlruns, id, "meta.yaml"), "utf8")) as Record<string, unknown> }))

export const runIds = (mlruns: string, experimentId: string): string[] =>
  readdirSync(join(mlruns, experimentId)).filter((name) => /^[0-9a-f]{32}$/.test(name))
