// The database store: MLflow's SqlAlchemyStore rows (experiments, runs, params, tags, metrics) behind the Store interface.
import { newRunInfo, newRunParams, runNameAndTags } from "../new-run.ts"
import { ToolError } from "../../errors.ts"
import { isExperimentId, isRunId } from "../experiment-id.ts"
import { validateBatch, validateExperimentName, validateMetric, validateTag } from "../key-rules.ts"
import { appendToUriPath } from "../tracking-uri.ts"
import { runNameTag, terminalStatuses, type Metric, type Run, type RunStatus, type Store, type Tag } from "../types.ts"
import { dbBool, quoteName, type DbClient, type DbSession } from "./db-client.ts"
import { checkTagValue, type DbSchema } from "./db-schema.ts"
import { byRun, experimentOf, isLater, latestPoints, metricOf, num, runInfoOf, runOf, storedPoint, text } from "./sql-rows.ts"
import { isUniqueViolation } from "./db-errors.ts"

const defaultExperiment = { id: "0", name: "Default" }
const invalid = (code: ConstructorParameters<typeof ToolError>[0], message: string, hint?: string) => new ToolError(code, message, { hint, exitCode: 2 })

export type SqlStoreParts = {
  client: DbClient
  schema: DbSchema
  /** Where new experiments keep artifacts: MLflow's default artifact root for a database store, `./mlruns` made absolute. */
  artifactRoot: string
  place: string
}

export const createSqlStore = ({ client, schema, artifactRoot, place }: SqlStoreParts): Store => {
  const d = client.dialect
  const q = (name: string) => quoteName(d, name)
  const K = q("key")
  const V = q("value")
  const TS = q("timestamp")
  // Databases that know workspaces (MLflow ≥ 3.10) hold other workspaces' experiments too; we live in "default".
  const inWorkspace = schema.workspaces ? ` AND workspace = 'default'` : ""

  const experimentTags = async (db: DbSession, id: string): Promise<Record<string, string>> => {
    const rows = await db.all(`SELECT ${K}, ${V} FROM experiment_tags WHERE experiment_id = ?`, [Number(id)])
    return Object.fromEntries(rows.map((row) => [text(row.key), text(row.value)]))
  }

  const experimentRow = async (db: DbSession, id: string) => {
    if (!isExperimentId(id)) throw invalid("tracking.experiment.invalid_id", `Invalid experiment ID: '${id}'`)
    const rows = await db.all(`SELECT * FROM experiments WHERE experiment_id = ?${inWorkspace}`, [Number(id)])
    return rows[0] ?? null
  }

  const experimentsNamed = (db: DbSession, name: string) =>
    db.all(`SELECT * FROM experiments WHERE name = ?${inWorkspace} ORDER BY creation_time DESC, experiment_id`, [name])

  const insertExperiment = async (db: DbSession, name: string, fixedId?: string): Promise<string> => {
    const now = Date.now()
    const columns = "name, artifact_location, lifecycle_stage, creation_time, last_update_time"
    let id: string
    if (fixedId !== undefined) {
      await db.run(`INSERT INTO experiments (experiment_id, ${columns}) VALUES (?, ?, ?, ?, ?, ?)`, [
        Number(fixedId),
        name,
        appendToUriPath(artifactRoot, fixedId),
        "active",
        now,
        now,
      ])
      id = fixedId
    } else if (d === "mysql") {
      await db.run(`INSERT INTO experiments (${columns}) VALUES (?, NULL, ?, ?, ?)`, [name, "active", now, now])
      id = text((await db.all("SELECT LAST_INSERT_ID() AS id"))[0]?.id)
    } else {
      id = text((await db.all(`INSERT INTO experiments (${columns}) VALUES (?, NULL, ?, ?, ?) RETURNING experiment_id`, [name, "active", now, now]))[0]?.experiment_id)
    }
    // MLflow fills the location once the database has given the id.
    if (fixedId === undefined) await db.run("UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?", [appendToUriPath(artifactRoot, id), Number(id)])
    return id
  }

  let ready: Promise<void> | null = null
  /** MLflow's store creates experiment 0 when the database has no experiment at all. */
  const ensureDefault = (): Promise<void> =>
    (ready ??= (async () => {
      const any = await client.all(`SELECT experiment_id FROM experiments${schema.workspaces ? " WHERE workspace = 'default'" : ""} LIMIT 1`)
      if (any.length > 0) return
      try {
        await client.transaction(async (tx) => {
          if ((await tx.all("SELECT experiment_id FROM experiments LIMIT 1")).length > 0) return
          // MySQL would read an explicit 0 as "the next id" without this.
          if (d === "mysql") await tx.run("SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',NO_AUTO_VALUE_ON_ZERO')")
          await insertExperiment(tx, defaultExperiment.name, defaultExperiment.id)
        })
      } catch (error) {
        // Another process made it first.
        if (!isUniqueViolation(error)) throw error
      }
    })().catch((error) => {
      ready = null
      throw error
    }))

  const runRow = async (db: DbSession, runId: string) => {
    if (!isRunId(runId)) throw invalid("tracking.run.invalid_id", `Invalid run ID: '${runId}'`)
    const rows = await db.all("SELECT * FROM runs WHERE run_uuid = ?", [runId])
    const row = rows[0]
    if (!row) throw invalid("tracking.run.not_found", `Run '${runId}' not found in ${place}`)
    return row
  }

  /** MLflow's _check_run_is_active. */
  const activeRunRow = async (db: DbSession, runId: string, found?: Record<string, unknown>) => {
    const row = found ?? (await runRow(db, runId))
    if (row.lifecycle_stage !== "active")
      throw invalid("tracking.run.deleted", `The run ${runId} must be in the 'active' state. Current state is ${text(row.lifecycle_stage)}.`)
    return row
  }

  const upsert = (table: "tags" | "experiment_tags", owner: "run_uuid" | "experiment_id"): string =>
    d === "mysql"
      ? `INSERT INTO ${table} (${K}, ${V}, ${owner}) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE ${V} = VALUES(${V})`
      : `INSERT INTO ${table} (${K}, ${V}, ${owner}) VALUES (?, ?, ?) ON CONFLICT (${K}, ${owner}) DO UPDATE SET ${V} = excluded.${V}`

  const checkTagFits = (tag: Tag): void => checkTagValue(schema, place, tag)

  const setRunTags = async (db: DbSession, runId: string, tags: readonly Tag[]): Promise<void> => {
    tags.forEach(checkTagFits)
    for (const tag of tags) {
      await db.run(upsert("tags", "run_uuid"), [tag.key, tag.value, runId])
      if (tag.key === runNameTag) await db.run("UPDATE runs SET name = ? WHERE run_uuid = ?", [tag.value, runId])
    }
  }

  const logParams = async (db: DbSession, runId: string, params: readonly Tag[]): Promise<void> => {
    for (const param of params) {
      const existing = await db.all(`SELECT ${V} FROM params WHERE run_uuid = ? AND ${K} = ?`, [runId, param.key])
      if (existing.length === 0) {
        await db.run(`INSERT INTO params (${K}, ${V}, run_uuid) VALUES (?, ?, ?)`, [param.key, param.value, runId])
        continue
      }
      const current = text(existing[0]!.value)
      if (current !== param.value)
        throw invalid(
          "tracking.param.changed",
          `Changing param values is not allowed. Param with key='${param.key}' was already logged with value='${current}' for run ID='${runId}'. Attempted logging new value '${param.value}'.`,
          "a run's parameters are fixed once logged; start a new run to use other values",
        )
    }
  }

  const insertIgnore = (table: string, columns: string): string => {
    const marks = columns.split(",").map(() => "?").join(", ")
    if (d === "mysql") return `INSERT IGNORE INTO ${table} (${columns}) VALUES (${marks})`
    return `INSERT INTO ${table} (${columns}) VALUES (${marks}) ON CONFLICT DO NOTHING`
  }

  const logMetrics = async (db: DbSession, runId: string, metrics: readonly Metric[]): Promise<void> => {
    if (metrics.length === 0) return
    const points = metrics.map(storedPoint)
    for (const point of points)
      await db.run(insertIgnore("metrics", `${K}, ${V}, ${TS}, run_uuid, step, is_nan`), [point.key, point.value, point.timestamp, runId, point.step, dbBool(d, point.isNan)])
    for (const [key, candidate] of latestPoints(points)) {
      const rows = await db.all(`SELECT ${V}, ${TS}, step, is_nan FROM latest_metrics WHERE run_uuid = ? AND ${K} = ?`, [runId, key])
      const current = rows[0]
      const args = [candidate.value, candidate.timestamp, candidate.step, dbBool(d, candidate.isNan)]
      if (!current) await db.run(`INSERT INTO latest_metrics (${V}, ${TS}, step, is_nan, ${K}, run_uuid) VALUES (?, ?, ?, ?, ?, ?)`, [...args, key, runId])
      else if (isLater(candidate, { value: num(current.value), timestamp: num(current.timestamp), step: num(current.step) }))
        await db.run(`UPDATE latest_metrics SET ${V} = ?, ${TS} = ?, step = ?, is_nan = ? WHERE ${K} = ? AND run_uuid = ?`, [...args, key, runId])
    }
  }

  const loadRuns = async (db: DbSession, rows: readonly Record<string, unknown>[]): Promise<Run[]> => {
    const ids = rows.map((row) => text(row.run_uuid))
    if (ids.length === 0) return []
    const params = new Map<string, Record<string, string>>()
    const tags = new Map<string, Record<string, string>>()
    const metrics = new Map<string, Record<string, Metric>>()
    // Chunks keep every statement under each server's limit of bound parameters.
    for (let start = 0; start < ids.length; start += 500) {
      const chunk = ids.slice(start, start + 500)
      const marks = chunk.map(() => "?").join(", ")
      for (const [run, entries] of byRun(await db.all(`SELECT run_uuid, ${K}, ${V} FROM params WHERE run_uuid IN (${marks})`, chunk), (r) => text(r.value))) params.set(run, entries)
      for (const [run, entries] of byRun(await db.all(`SELECT run_uuid, ${K}, ${V} FROM tags WHERE run_uuid IN (${marks})`, chunk), (r) => text(r.value))) tags.set(run, entries)
      const latest = await db.all(`SELECT run_uuid, ${K}, ${V}, ${TS}, step, is_nan FROM latest_metrics WHERE run_uuid IN (${marks})`, chunk)
      for (const [run, entries] of byRun(latest, metricOf)) metrics.set(run, entries)
    }
    return rows.map((row) => {
      const info = runInfoOf(row)
      return runOf(info, params.get(info.run_id) ?? {}, tags.get(info.run_id) ?? {}, metrics.get(info.run_id) ?? {})
    })
  }

  return {
    location: place,
    paramsAtCreate: true,

    async getExperiment(experimentId) {
      await ensureDefault()
      const row = await experimentRow(client, experimentId)
      return row ? experimentOf(row, await experimentTags(client, experimentId)) : null
    },

    async getExperimentByName(name) {
      await ensureDefault()
      const row = (await experimentsNamed(client, name)).find((r) => r.lifecycle_stage === "active")
      return row ? experimentOf(row, await experimentTags(client, text(row.experiment_id))) : null
    },

    async getOrCreateExperiment(name) {
      validateExperimentName(name)
      await ensureDefault()
      for (let attempt = 0; ; attempt++) {
        try {
          return await client.transaction(async (tx) => {
            const named = await experimentsNamed(tx, name)
            const active = named.find((r) => r.lifecycle_stage === "active")
            if (active) return { experiment_id: text(active.experiment_id), created: false }
            if (named.length > 0)
              throw invalid(
                "tracking.experiment.deleted",
                `Experiment '${name}' already exists in deleted state. You can restore the experiment, or permanently delete the experiment (mlflow gc) in order to use this experiment name again.`,
              )
            return { experiment_id: await insertExperiment(tx, name), created: true }
          })
        } catch (error) {
          // Another process created it between our look and our insert: the next look finds it.
          if (!isUniqueViolation(error) || attempt >= 3) throw error
        }
      }
    },

    async createRun(input) {
      if (!Number.isSafeInteger(input.start_time) || input.start_time < 0)
        throw invalid("tracking.time.invalid", `start_time ${input.start_time} must be milliseconds since the epoch`)
      for (const tag of input.tags) validateTag(tag)
      const params = newRunParams(input)
      await ensureDefault()
      const { runName, tags } = runNameAndTags(input)
      tags.forEach(checkTagFits)
      return client.transaction(async (tx) => {
        const experiment = await experimentRow(tx, input.experiment_id)
        if (!experiment)
          throw invalid("tracking.experiment.not_found", `Could not create run under experiment with ID ${input.experiment_id} - no such experiment exists.`, `list the experiments in ${place}, or pass an experiment name to create one`)
        if (experiment.lifecycle_stage !== "active")
          throw invalid("tracking.experiment.deleted", `Could not create run under non-active experiment with ID ${input.experiment_id}.`)
        const info = newRunInfo(input, runName, text(experiment.artifact_location))
        const runId = info.run_id
        // The columns MLflow's create_run fills: source fields stay as SqlAlchemyStore leaves them (UNKNOWN, empty).
        await tx.run(
          "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id, deleted_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          [runId, runName, "UNKNOWN", "", "", input.user_id, "RUNNING", input.start_time, null, "", "active", info.artifact_uri, Number(input.experiment_id), null],
        )
        for (const tag of tags) await tx.run(`INSERT INTO tags (${K}, ${V}, run_uuid) VALUES (?, ?, ?)`, [tag.key, tag.value, runId])
        // A new run has no params yet, and newRunParams refused duplicate keys: plain inserts.
        for (const param of params) await tx.run(`INSERT INTO params (${K}, ${V}, run_uuid) VALUES (?, ?, ?)`, [param.key, param.value, runId])
        return info
      })
    },

    async getRun(runId) {
      const row = await runRow(client, runId)
      const [run] = await loadRuns(client, [row])
      return run!
    },

    async getRunInfo(runId) {
      return runInfoOf(await runRow(client, runId))
    },

    async searchRuns(input) {
      // The search code (filter parser, comparators) loads here: a run, the common use, never searches.
      const { parseQuery, selectRuns, viewOf } = await import("../search-runs.ts")
      const query = parseQuery(input.filter, input.orderBy)
      if (query.filter.some((clause) => clause.type === "dataset"))
        throw new ToolError("unsupported", "datasets.* filters need a tracking server: mlproject's database-store search does not read dataset inputs", {
          hint: "filter on params, metrics, tags or attributes, or search through an MLflow tracking server",
        })
      const ids = [...new Set(input.experimentIds)].filter(isExperimentId).map(Number)
      if (ids.length === 0) return []
      const view = input.runViewType ?? "ACTIVE_ONLY"
      const stage = view === "ALL" ? "" : ` AND lifecycle_stage = '${view === "DELETED_ONLY" ? "deleted" : "active"}'`
      const rows = await client.all(`SELECT * FROM runs WHERE experiment_id IN (${ids.map(() => "?").join(", ")})${stage}`, ids)
      const views = (await loadRuns(client, rows)).map((run) => ({ ...viewOf(run), run }))
      return selectRuns(views, query, input.maxResults).map((v) => v.run)
    },

    async logBatch(runId, batch) {
      const params = batch.params ?? []
      const tags = batch.tags ?? []
      const metrics = batch.metrics ?? []
      validateBatch(params, tags, metrics)
      await client.transaction(async (tx) => {
        await activeRunRow(tx, runId)
        await logParams(tx, runId, params)
        await logMetrics(tx, runId, metrics)
        await setRunTags(tx, runId, tags)
      })
    },

    async setTag(runId, key, value) {
      validateTag({ key, value })
      await client.transaction(async (tx) => {
        await activeRunRow(tx, runId)
        await setRunTags(tx, runId, [{ key, value }])
      })
    },

    async updateRun(runId, update) {
      if (update.end_time !== undefined && (!Number.isSafeInteger(update.end_time) || update.end_time < 0))
        throw invalid("tracking.time.invalid", `end_time ${update.end_time} must be milliseconds since the epoch`)
      await client.transaction(async (tx) => {
        const found = await runRow(tx, runId)
        if (update.unlessEnded && terminalStatuses.has(text(found.status) as RunStatus)) return
        const row = await activeRunRow(tx, runId, found)
        const terminal = update.status !== undefined && terminalStatuses.has(update.status)
        const status = update.status ?? text(row.status)
        const endTime = update.end_time ?? (terminal ? Date.now() : row.end_time === null ? null : num(row.end_time))
        await tx.run("UPDATE runs SET status = ?, end_time = ? WHERE run_uuid = ?", [status, endTime, runId])
        if (update.run_name) await setRunTags(tx, runId, [{ key: runNameTag, value: update.run_name }])
      })
    },

    async logMetric(runId, metric) {
      validateMetric(metric)
      await client.transaction(async (tx) => {
        await activeRunRow(tx, runId)
        await logMetrics(tx, runId, [metric])
      })
    },
  }
}
