// The human renderer: results on stdout, progress, warnings and errors on stderr, colour only on a TTY.
import type { Emit, Event } from "./event.ts"
import type { Diagnostic } from "../project/types.ts"
import { bytesText as bytes, envCollectedText, envCreatingText, envListedText, envProgressLine, envProgressText, envReadyText, envRemovedText, envWaitingText } from "./env-text.ts"
import { visibleEvent } from "./terminal-text.ts"

// The texts of other commands' events (cache, migrate-store, kubernetes, databricks, pack, runs list) load when one
// is shown: every command's renderer is built at start, and a run shows none of them.
const cacheText = () => require("./cache-text.ts") as typeof import("./cache-text.ts")
const migrateText = () => require("./migrate-text.ts") as typeof import("./migrate-text.ts")
const kubeText = () => require("./kube-text.ts") as typeof import("./kube-text.ts")
const databricksText = () => require("./databricks-text.ts") as typeof import("./databricks-text.ts")
const packText = () => require("./pack-text.ts") as typeof import("./pack-text.ts")
const runsText = () => require("./runs-text.ts") as typeof import("./runs-text.ts")

type Out = { write(text: string): unknown; isTTY?: boolean; columns?: number }

const paint = (enabled: boolean) => (code: string, text: string) => (enabled ? `\x1b[${code}m${text}\x1b[0m` : text)

export const colourEnabled = (stream: Out, env: Record<string, string | undefined>): boolean =>
  Boolean(stream.isTTY) && env.NO_COLOR === undefined && env.TERM !== "dumb"

const where = (x: { file?: string; line?: number; column?: number }): string =>
  x.file ? `${x.file}${x.line ? `:${x.line}` : ""}${x.line && x.column ? `:${x.column}` : ""}: ` : ""

const seconds = (ms: number): string => (ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`)

const trackingPlace = (uri: string): string => {
  if (uri.startsWith("file://")) return decodeURI(uri.slice("file://".length))
  const sqlite = /^sqlite(?:\+[^:]*)?:\/\/\/([^?#]*)/.exec(uri)
  return sqlite ? `sqlite database ${decodeURI(sqlite[1] ?? "")}` : uri
}

export const human = (stdout: Out, stderr: Out, env: Record<string, string | undefined> = process.env): Emit => {
  const c = paint(colourEnabled(stderr, env))
  const o = paint(colourEnabled(stdout, env))
  const info = (text: string) => void stderr.write(`${c("2", "mlproject:")} ${text}\n`)
  // The one progress line a terminal shows, redrawn in place; cut to the terminal's width, as a wrapped line cannot be.
  let live: string | null = null
  const showLive = (text: string) => {
    const room = Math.max(20, (stderr.columns || 80) - "mlproject: ".length - 1)
    live = text.length > room ? `${text.slice(0, room - 1)}…` : text
    stderr.write(`\r${c("2", "mlproject:")} ${live}\x1b[K`)
  }
  const clearLive = () => {
    if (live !== null) stderr.write("\r\x1b[K")
    live = null
  }
  // `runs list` rows wait for the summary: a table's columns depend on every row.
  const listed: Array<Extract<Event, { type: "run.listed" }>> = []
  const diagnostic = (d: Diagnostic, out: Out, p: typeof c) => {
    const label = d.severity === "error" ? p("31", "error") : p("33", "warning")
    out.write(`${where(d)}${label}: ${d.message}\n`)
    if (d.hint) out.write(`  ${p("2", "hint:")} ${d.hint}\n`)
  }

  const renderers: { [K in Event["type"]]: (event: Extract<Event, { type: K }>) => void } = {
    version: (e) => void stdout.write(`mlproject ${e.version}\n`),
    help: (e) => void stdout.write(e.text.endsWith("\n") ? e.text : `${e.text}\n`),
    warning: (e) => {
      stderr.write(`${where(e)}${c("33", "warning")}: ${e.message}\n`)
      if (e.hint) stderr.write(`  ${c("2", "hint:")} ${e.hint}\n`)
    },
    error: (e) => {
      stderr.write(`${c("31", "error")}: ${where(e)}${e.message}\n`)
      if (e.hint) stderr.write(`  ${c("2", "hint:")} ${e.hint}\n`)
    },
    "project.loaded": (e) =>
      info(`project ${e.name ? `'${e.name}' ` : ""}from ${e.file ?? `${e.dir} (no MLproject file: folder conventions)`}`),
    "project.validated": (e) => {
      for (const d of e.diagnostics) diagnostic(d, stdout, o)
      const counts = `${e.errors} error${e.errors === 1 ? "" : "s"}, ${e.warnings} warning${e.warnings === 1 ? "" : "s"}`
      const named = `${e.source}${e.commit ? ` at ${e.commit.slice(0, 12)}` : ""}`
      stdout.write(e.ok ? `${o("32", "valid")}: ${named} (${counts})\n` : `${o("31", "invalid")}: ${named} (${counts})\n`)
    },
    "project.described": (e) => {
      // A fetched project was read from a temporary copy that is gone by now: it is named by its URI and commit.
      const fetched = e.source !== e.dir
      const file = e.file === null ? "(none: folder conventions)" : fetched && e.file.startsWith(`${e.dir}/`) ? e.file.slice(e.dir.length + 1) : e.file
      const lines = [
        `name:        ${e.name ?? "(none)"}`,
        fetched ? `source:      ${e.source}${e.commit ? ` at ${e.commit}` : ""}` : `directory:   ${e.dir}`,
        `file:        ${file}`,
      ]
      const envText = e.env.image ? `docker (image ${e.env.image})` : e.env.file ? `${e.env.kind} (${e.env.file})` : e.env.kind
      lines.push(`environment: ${envText}`, "entry points:")
      if (e.entry_points.length === 0) lines.push("  (none declared: any .py, .sh or .R file can be run with -e FILE)")
      for (const ep of e.entry_points) {
        lines.push(`  ${o("1", ep.name)}`, `    command: ${ep.command}`)
        for (const p of ep.parameters) {
          const type = p.declared_type === p.type ? p.type : `${p.type} (declared ${p.declared_type})`
          lines.push(`    ${p.name}: ${type}${p.default === null ? ", required" : `, default ${p.default}`}`)
        }
        for (const problem of ep.problems) lines.push(`    ${o("31", "unusable:")} ${problem}`)
      }
      if (e.resolved) lines.push(`resolved command (${e.resolved.entry_point}):`, `  ${e.resolved.command}`)
      stdout.write(`${lines.join("\n")}\n`)
    },
    "run.planned": (e) => {
      const lines = [
        `entry point: ${e.entry_point}`,
        `environment: ${e.env_manager}`,
        `directory:   ${e.cwd}`,
        `command:     ${e.command}`,
        `tracking:    ${e.tracking_uri}`,
        `experiment:  ${e.experiment_id ?? "(created on the real run)"}`,
        "variables:",
        ...Object.entries(e.env).map(([k, v]) => `  ${k}=${v}`),
        "(dry run: nothing was executed or recorded)",
      ]
      stdout.write(`${lines.join("\n")}\n`)
    },
    "fetch.started": (e) => info(`fetching ${e.source} (${e.kind})`),
    "fetch.progress": (e) => {
      if (!stderr.isTTY) return
      const amount = e.total ? ` ${e.done ?? 0}/${e.total}` : e.done !== null ? ` ${e.done}` : ""
      showLive(`${e.phase}${amount}`)
    },
    "fetch.done": (e) => {
      if (stderr.isTTY) stderr.write("\r\x1b[K")
      info(`fetched ${e.source}${e.commit ? ` at ${e.commit.slice(0, 12)}` : ""}${e.cached ? " (cached)" : ""} in ${seconds(e.ms)}`)
    },
    "download.started": (e) => info(`downloading ${e.uri}${e.bytes !== null ? ` (${bytes(e.bytes)})` : ""}`),
    progress: (e) => {
      if (!stderr.isTTY) return
      const total = e.total ? `/${bytes(e.total)} ${Math.floor((100 * e.done) / e.total)}%` : ""
      const rate = e.rate ? ` ${bytes(e.rate)}/s` : ""
      const eta = e.eta_s !== null ? ` ETA ${Math.ceil(e.eta_s)} s` : ""
      showLive(`${e.task} ${bytes(e.done)}${total}${rate}${eta}`)
    },
    "download.done": (e) => {
      if (stderr.isTTY) stderr.write("\r\x1b[K")
      const check = e.checksum === "none" ? "not verified" : e.checksum === "mixed" ? "verified (checksums vary by object)" : `verified by ${e.checksum}`
      const note = e.checksum_note ? `; ${e.checksum_note}` : ""
      info(`${e.cached ? "reused cached" : "downloaded"} ${e.uri} (${bytes(e.bytes)}) → ${e.path}${e.cached ? "" : ` in ${seconds(e.ms)}`}, ${check}${note}`)
    },
    "experiment.created": (e) => info(`created experiment '${e.name}' (id ${e.experiment_id})`),
    "run.created": (e) =>
      info(`${e.resumed ? "continuing" : "created"} run ${e.run_id} (${e.run_name}) in experiment ${e.experiment_id}`),
    "image.pull.started": (e) => info(`pulling ${e.image}`),
    "image.pull.done": (e) => {
      if (stderr.isTTY) stderr.write("\r\x1b[K")
      info(`pulled ${e.image} in ${seconds(e.ms)}`)
    },
    "image.build.started": (e) => info(`building ${e.image} FROM ${e.base} (${e.files} files, ${bytes(e.bytes)})`),
    "image.build.output": (e) => void stderr.write(`${c("2", e.line)}\n`),
    "image.build.done": (e) => info(e.cached ? `using ${e.image} (project unchanged, no build)` : `built ${e.image} in ${seconds(e.ms)}`),
    "image.push.started": (e) => info(`pushing ${e.image} to ${e.registry}`),
    "image.push.done": (e) => {
      if (stderr.isTTY) stderr.write("\r\x1b[K")
      info(e.pushed ? `pushed ${e.image} (${e.digest}) in ${seconds(e.ms)}` : `${e.image} is already in the registry (${e.digest}): not pushed`)
    },
    "env.creating": (e) => info(envCreatingText(e)),
    "env.waiting": (e) => info(envWaitingText(e)),
    // A terminal gets one live line (steps and what the installer does); a log file gets each step once.
    "env.progress": (e) => (stderr.isTTY ? showLive(envProgressLine(e)) : e.detail === undefined ? info(envProgressText(e)) : undefined),
    "env.listed": (e) => void stdout.write(envListedText(e)),
    "env.removed": (e) => void stdout.write(`${envRemovedText(e)}\n`),
    "env.collected": (e) => void stdout.write(`${envCollectedText(e)}\n`),
    "cache.listed": (e) => void stdout.write(cacheText().cacheListedText(e)),
    "cache.removed": (e) => void stdout.write(`${cacheText().cacheRemovedText(e)}\n`),
    "cache.collected": (e) => void stdout.write(`${cacheText().cacheCollectedText(e)}\n`),
    "env.ready": (e) => info(envReadyText(e)),
    "run.status": (e) => {
      const colour = e.status === "FINISHED" ? "32" : e.status === "RUNNING" || e.status === "SCHEDULED" ? "33" : "31"
      const when = (ms: number | null) => (ms === null ? "-" : new Date(ms).toISOString().replace(/\.\d+Z$/, "Z"))
      const parts = [
        e.run_id,
        o(colour, e.status.padEnd(8)),
        (e.backend ?? "-").padEnd(6),
        `started ${when(e.start_time)}`,
        e.end_time === null ? "" : `ended ${when(e.end_time)}`,
        e.exit_code === null ? "" : `exit ${e.exit_code}`,
        e.detached ? "(detached)" : "",
        e.reason ? `— ${e.reason}` : "",
      ]
      stdout.write(`${parts.filter(Boolean).join("  ")}\n`)
    },
    "sweep.started": (e) => info(`sweep ${e.parent_run_id}: ${e.trials} trial${e.trials === 1 ? "" : "s"}, ${e.parallel} at a time, in experiment ${e.experiment_id}`),
    "sweep.progress": (e) => {
      if (!stderr.isTTY) return
      stderr.write(`\r${c("2", "mlproject:")} sweep ${e.done}/${e.total} done, ${e.running} running${e.failed ? `, ${e.failed} failed` : ""}\x1b[K`)
    },
    "sweep.trial": (e) => {
      if (e.status === "RUNNING") return
      if (stderr.isTTY) stderr.write("\r\x1b[K")
      const params = Object.entries(e.params).map(([k, v]) => `${k}=${v}`).join(" ")
      info(`trial ${e.index + 1} ${e.run_id} ${c(e.status === "FINISHED" ? "32" : "31", e.status)}${e.reused ? " (reused)" : ""} ${params}${e.metric === null ? "" : ` → ${e.metric}`}`)
    },
    "sweep.finished": (e) => {
      if (stderr.isTTY) stderr.write("\r\x1b[K")
      const names = [...new Set(e.trials.flatMap((t) => Object.keys(t.params)))]
      const header = ["run", "status", ...names, ...(e.metric ? [e.metric] : [])]
      const rows = e.trials.map((t) => [t.run_id ?? "-", t.status, ...names.map((n) => t.params[n] ?? ""), ...(e.metric ? [t.metric === null ? "-" : String(t.metric)] : [])])
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
      const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ").trimEnd()
      stdout.write(`${[line(header), ...rows.map(line)].join("\n")}\n`)
      info(`sweep ${e.parent_run_id} ${c(e.status === "FINISHED" ? "32" : "31", e.status)}${e.best_run_id ? `; best by ${e.goal === "maximize" ? "highest" : "lowest"} ${e.metric}: ${e.best_run_id}` : ""}`)
    },
    "kube.job.created": (e) => info(`created Job ${e.job} in namespace ${e.namespace}${e.context ? ` (context ${e.context})` : ""} on ${e.server}`),
    "kube.job.status": (e) => info(kubeText().kubeJobText(e)),
    "kube.pod.status": (e) => info(kubeText().kubePodText(e)),
    "pack.wheels": (e) => info(`resolved ${e.count} wheel${e.count === 1 ? "" : "s"} for ${e.platform} and Python ${e.python}`),
    "pack.written": (e) => info(packText().packWrittenText(e)),
    "pack.manifest": (e) => info(packText().packManifestText(e)),
    "pack.image.loaded": (e) => info(`loaded the pack's image ${e.image} into the daemon in ${e.ms} ms`),
    "databricks.upload": (e) => info(e.uploaded ? `uploaded the ${e.what} to ${e.target} (${bytes(e.bytes)} in ${e.ms} ms)` : `the ${e.what} is already at ${e.target}${e.packed === false ? " (unchanged since an earlier run packed it)" : ""}`),
    "databricks.run.submitted": (e) => info(`submitted Databricks run ${e.databricks_run_id} to ${e.workspace}${e.url ? `: ${e.url}` : ""}`),
    "databricks.run.state": (e) => info(databricksText().databricksStateText(e)),
    "run.retrying": (e) => info(`run ${e.run_id} failed${e.exit_code !== null ? ` (exit code ${e.exit_code})` : ""}: starting attempt ${e.attempt}`),
    "run.detached": (e) => {
      info(`run ${e.run_id} goes on in the background (supervisor pid ${e.pid}); its output: ${e.log}`)
      info(`follow it with: mlproject logs ${e.run_id} --follow; wait for it with: mlproject wait ${e.run_id}`)
      stdout.write(`${e.run_id}\n`)
    },
    "run.started": (e) => info(`running in ${e.cwd}: ${e.command}`),
    log: (e) => void (e.stream === "stdout" ? stdout : stderr).write(`${e.line}\n`),
    "run.signal": (e) => info(`${e.signal}: ${e.action === "forwarded" ? "stopping the run" : "the run did not stop in time; killed"}`),
    // `mlproject log` runs in loops inside entry points: silence on success, like `mlflow.log_metric`.
    "run.logged": () => {},
    "run.shown": (e) => {
      const time = (ms: number | null) => (ms === null ? "-" : new Date(ms).toISOString())
      const section = (title: string, rows: Array<[string, string]>) =>
        rows.length === 0 ? [`${title}: (none)`] : [`${title}:`, ...rows.sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `  ${k}: ${v}`)]
      const lines = [
        `run:         ${o("1", e.run_id)}${e.run_name ? ` (${e.run_name})` : ""}`,
        `status:      ${e.status}${e.lifecycle_stage === "deleted" ? " (deleted)" : ""}`,
        `experiment:  ${e.experiment_id}`,
        `user:        ${e.user_id || "-"}`,
        `started:     ${time(e.start_time)}`,
        `ended:       ${time(e.end_time)}`,
        `artifacts:   ${e.artifact_uri}`,
        ...section("params", Object.entries(e.params)),
        ...section("metrics", Object.entries(e.metrics).map(([k, m]): [string, string] => [k, `${m.value} (step ${m.step})`])),
        ...section("tags", Object.entries(e.tags)),
      ]
      stdout.write(`${lines.join("\n")}\n`)
    },
    "run.listed": (e) => void listed.push(e),
    "runs.listed": (e) => {
      const { table, note } = runsText().runsTableText(listed.splice(0), e, { width: stdout.isTTY ? stdout.columns : undefined, paint: o })
      stdout.write(table)
      info(note)
    },
    "migrate.experiment": (e) => (e.status === "failed" ? stderr.write(`${c("31", "error")}: ${migrateText().migrateExperimentText(e)}\n`) : info(migrateText().migrateExperimentText(e))),
    "migrate.run": (e) => {
      const text = migrateText().migrateRunText(e)
      if (text) stderr.write(`${c(e.status === "failed" ? "31" : "33", e.status === "failed" ? "error" : "warning")}: ${text}\n`)
    },
    "migrate.done": (e) => void stdout.write(`${migrateText().migrateDoneText(e).join("\n")}\n`),
    "run.reused": (e) => info(`reusing run ${e.run_id} (experiment ${e.experiment_id}): it FINISHED with the same run key ${e.run_key.slice(0, 12)}…; nothing was run`),
    "run.finished": (e) => {
      const colour = e.status === "FINISHED" ? "32" : "31"
      const why = e.timed_out
        ? " (stopped at its --timeout)"
        : e.status === "FAILED" && e.exit_code !== null
          ? ` (exit code ${e.exit_code})`
          : e.signal
            ? ` (${e.signal})`
            : e.error_code
              ? ` (${e.error_code}, before its entry point ended)`
              : ""
      info(`run ${e.run_id} ${c(colour, e.status)}${why} in ${seconds(e.duration_ms)}`)
      if (e.recorded) info(`recorded in ${trackingPlace(e.tracking_uri)} (experiment ${e.experiment_id})`)
      else info(`${c("31", "not recorded")}: run ${e.run_id} is still RUNNING in ${trackingPlace(e.tracking_uri)} (experiment ${e.experiment_id})`)
    },
  }
  return (incoming) => {
    // Control bytes from outside are shown, never obeyed; the entry point's own output passes through byte for byte.
    const event = incoming.type === "log" ? incoming : visibleEvent(incoming)
    const render = () => (renderers[event.type] as (e: Event) => void)(event)
    if (live === null || liveEvents.has(event.type)) return render()
    // Output that passes by (a warning, a line of a build) goes above the progress line, which then comes back.
    const kept = passingEvents.has(event.type) ? live : null
    clearLive()
    render()
    if (kept !== null) showLive(kept)
  }
}

const liveEvents = new Set<Event["type"]>(["fetch.progress", "progress", "env.progress", "sweep.progress"])
const passingEvents = new Set<Event["type"]>(["log", "warning", "image.build.output"])
