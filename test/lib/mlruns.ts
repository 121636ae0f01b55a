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

const intText = /^-?\d+$/
const floatText = /^(?:[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|-?nan|-?inf|-?infinity)$/i

/** MLflow's FileStore reading one metric file: every line `<ms> <value> [<step>]`, newline-terminated, and at least one. */
const metricProblems = (file: string, shown: string): string[] => {
  const text = readFileSync(file, "utf8")
  if (text === "") return [`${shown}: empty metric file (MLflow's max() over no lines fails)`]
  if (!text.endsWith("\n")) return [`${shown}: last line is cut off: ${JSON.stringify(text.slice(text.lastIndexOf("\n") + 1))}`]
  return text
    .slice(0, -1)
    .split("\n")
    .flatMap((line, i) => {
      const parts = line.split(" ")
      const ok = (parts.length === 2 || parts.length === 3) && intText.test(parts[0] ?? "") && floatText.test(parts[1] ?? "") && (parts.length === 2 || intText.test(parts[2] ?? ""))
      return ok ? [] : [`${shown}:${i + 1}: malformed metric line ${JSON.stringify(line)}`]
    })
}

const walkFiles = (dir: string): string[] =>
  existsSync(dir) ? readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? walkFiles(join(dir, name)) : [join(dir, name)])) : []

const yamlOf = (file: string): Record<string, unknown> | string => {
  try {
    const parsed = parse(readFileSync(file, "utf8"), { version: "1.1" }) as unknown
    return parsed !== null && typeof parsed === "object" ? (parsed as Record<string, unknown>) : `${file}: not a mapping`
  } catch (error) {
    return `${file}: ${(error as Error).message.split("\n")[0]}`
  }
}

/**
 * Every problem MLflow's FileStore would have listing and reading this store (experiments, runs, params, tags,
 * metrics), plus litter we promise never to leave: temp names, staging folders, 0-byte metric files. Empty = readable.
 */
export const storeProblems = (mlruns: string, options: { allowTemps?: boolean } = {}): string[] => {
  const problems: string[] = []
  const litter = (path: string) => {
    if (!options.allowTemps && /(^|\/)\.mlproject-tmp-/.test(relative(mlruns, path))) problems.push(`${relative(mlruns, path)}: leftover temp or staging entry`)
  }
  for (const name of readdirSync(mlruns)) {
    const path = join(mlruns, name)
    litter(path)
    if (!statSync(path).isDirectory() || name.endsWith(".trash") || name === "models") continue
    const exp = yamlOf(join(path, "meta.yaml"))
    if (typeof exp === "string") {
      problems.push(`experiment ${name}: ${exp}`)
      continue
    }
    if (String(exp.experiment_id) !== name) problems.push(`experiment ${name}: meta.yaml says experiment_id ${exp.experiment_id}`)
    for (const key of ["name", "artifact_location", "lifecycle_stage"]) if (!(key in exp)) problems.push(`experiment ${name}: meta.yaml has no ${key}`)
    for (const run of readdirSync(path)) {
      const runDir = join(path, run)
      litter(runDir)
      if (!statSync(runDir).isDirectory() || ["tags", "datasets", "traces", "models"].includes(run)) continue
      const meta = yamlOf(join(runDir, "meta.yaml"))
      if (typeof meta === "string") {
        problems.push(`run ${name}/${run}: ${meta}`)
        continue
      }
      if (meta.run_id !== run && meta.run_uuid !== run) problems.push(`run ${name}/${run}: meta.yaml names run ${meta.run_id}`)
      if (String(meta.experiment_id) !== name) problems.push(`run ${name}/${run}: meta.yaml names experiment ${meta.experiment_id}`)
      if (![1, 2, 3, 4, 5].includes(meta.status as number)) problems.push(`run ${name}/${run}: status ${meta.status}`)
      if (typeof meta.start_time !== "number") problems.push(`run ${name}/${run}: start_time ${meta.start_time}`)
      for (const key of ["artifact_uri", "lifecycle_stage", "user_id"]) if (!(key in meta)) problems.push(`run ${name}/${run}: meta.yaml has no ${key}`)
      for (const entry of readdirSync(runDir)) litter(join(runDir, entry))
      for (const file of walkFiles(join(runDir, "metrics"))) {
        litter(file)
        problems.push(...metricProblems(file, relative(mlruns, file)))
      }
      for (const file of [...walkFiles(join(runDir, "params")), ...walkFiles(join(runDir, "tags"))]) litter(file)
    }
  }
  return problems
}

/** Every file of a tree with its bytes, to prove a failed command changed nothing. */
export const snapshotTree = (dir: string): Record<string, string> =>
  Object.fromEntries(
    (readdirSync(dir, { recursive: true }) as string[])
      .sort()
      .map((path) => [path, statSync(join(dir, path)).isDirectory() ? "<dir>" : readFileSync(join(dir, path)).toString("base64")]),
  )
