// The migration's rows: experiments and runs inserted with the ids they already have, and a copied run read back to compare.
import type { Experiment, Tag } from "../types.ts"
import { dbBool, quoteName, type DbClient, type DbSession, type Row } from "./db-client.ts"
import type { DbSchema } from "./db-schema.ts"
import { flag, latestPoints, num, numOrNull, text, type StoredPoint } from "./sql-rows.ts"

/** A run as its rows hold it: the runs columns, params, tags and every distinct metric point. */
export type RunRows = {
  run: {
    run_uuid: string
    name: string
    source_type: string
    source_name: string
    entry_point_name: string
    user_id: string
    status: string
    start_time: number
    end_time: number | null
    source_version: string
    lifecycle_stage: string
    artifact_uri: string
    experiment_id: string
    deleted_time: number | null
  }
  params: Tag[]
  tags: Tag[]
  points: StoredPoint[]
}

/** What two copies of a run are compared on: the runs columns, params, tags, latest metrics and the number of points. */
type RunContent = { run: Record<string, string | number | null>; params: Record<string, string>; tags: Record<string, string>; latest: Record<string, string>; points: number }

/** One statement's worth of rows: every server takes a few thousand bound values. */
const chunkRows = 400

const pointText = (p: { value: number; isNan: boolean; step: number; timestamp: number }) => `value ${p.isNan ? "NaN" : p.value} at step ${p.step}, time ${p.timestamp}`

/** The points of one run once, as the metrics table's primary key keeps them. */
export const distinctPoints = (points: readonly StoredPoint[]): StoredPoint[] => {
  const seen = new Map<string, StoredPoint>()
  for (const p of points) seen.set(JSON.stringify([p.key, p.timestamp, p.step, p.value, p.isNan]), p)
  return [...seen.values()]
}

const contentOf = (rows: RunRows): RunContent => ({
  run: { ...rows.run },
  params: Object.fromEntries(rows.params.map((t) => [t.key, t.value])),
  tags: Object.fromEntries(rows.tags.map((t) => [t.key, t.value])),
  latest: Object.fromEntries([...latestPoints(rows.points)].map(([key, p]) => [key, pointText(p)])),
  points: rows.points.length,
})

/** The first difference between a run's copy in the source and in the destination, or null when they agree. */
export const runDifference = (source: RunRows, destination: RunContent): string | null => {
  const mine = contentOf(source)
  for (const [field, value] of Object.entries(mine.run))
    if (destination.run[field] !== value) return `${field} is ${JSON.stringify(value)} in the source, ${JSON.stringify(destination.run[field])} in the destination`
  for (const section of ["params", "tags", "latest"] as const) {
    const keys = new Set([...Object.keys(mine[section]), ...Object.keys(destination[section])])
    const what = section === "latest" ? "latest metric" : section.slice(0, -1)
    for (const key of [...keys].sort())
      if (mine[section][key] !== destination[section][key])
        return `${what} '${key}' is ${mine[section][key] === undefined ? "absent" : JSON.stringify(mine[section][key])} in the source, ${destination[section][key] === undefined ? "absent" : JSON.stringify(destination[section][key])} in the destination`
  }
  if (mine.points !== destination.points) return `${mine.points} metric points in the source, ${destination.points} in the destination`
  return null
}

/** The statements of the migration, for one database. */
export const migrationRows = (client: DbClient, schema: DbSchema) => {
  const d = client.dialect
  const q = (name: string) => quoteName(d, name)
  const [K, V, TS] = [q("key"), q("value"), q("timestamp")]
  const inWorkspace = schema.workspaces ? " AND workspace = 'default'" : ""

  const insertMany = async (db: DbSession, table: string, columns: readonly string[], rows: readonly unknown[][], ignore = false): Promise<void> => {
    for (let start = 0; start < rows.length; start += chunkRows) {
      const chunk = rows.slice(start, start + chunkRows)
      const marks = chunk.map(() => `(${columns.map(() => "?").join(", ")})`).join(", ")
      const head = `INSERT${ignore && d === "mysql" ? " IGNORE" : ""} INTO ${table} (${columns.join(", ")}) VALUES ${marks}`
      await db.run(ignore && d !== "mysql" ? `${head} ON CONFLICT DO NOTHING` : head, chunk.flat())
    }
  }

  const experimentRow = async (db: DbSession, where: "name" | "experiment_id", value: string | number): Promise<Row | null> =>
    (await db.all(`SELECT experiment_id, name FROM experiments WHERE ${where} = ?${inWorkspace}`, [value]))[0] ?? null

  return {
    /** The destination's experiment with this name (active or deleted: names are unique across both). */
    experimentNamed: async (name: string) => {
      const row = await experimentRow(client, "name", name)
      return row ? text(row.experiment_id) : null
    },

    /** The name of the destination's experiment with this id, null when the id is free. */
    nameOfExperiment: async (id: string) => {
      const row = await experimentRow(client, "experiment_id", Number(id))
      return row ? text(row.name) : null
    },

    /** Inserts the experiment (with `id`, or the one the database gives) and its tags in one transaction; returns its id. */
    insertExperiment: (experiment: Experiment, id: string | null): Promise<string> =>
      client.transaction(async (tx) => {
        const values = [experiment.name, experiment.artifact_location, experiment.lifecycle_stage, experiment.creation_time ?? null, experiment.last_update_time ?? null]
        const columns = "name, artifact_location, lifecycle_stage, creation_time, last_update_time"
        let given: string
        if (id !== null) {
          // MySQL would read an explicit 0 as "the next id" without this.
          if (d === "mysql") await tx.run("SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',NO_AUTO_VALUE_ON_ZERO')")
          await tx.run(`INSERT INTO experiments (experiment_id, ${columns}) VALUES (?, ?, ?, ?, ?, ?)`, [Number(id), ...values])
          // An id written by hand does not move PostgreSQL's sequence: the next experiment created would collide with it.
          if (d === "postgresql")
            await tx.run("SELECT setval(pg_get_serial_sequence('experiments', 'experiment_id'), (SELECT GREATEST(MAX(experiment_id), 1) FROM experiments), (SELECT MAX(experiment_id) >= 1 FROM experiments))")
          given = id
        } else if (d === "mysql") {
          await tx.run(`INSERT INTO experiments (${columns}) VALUES (?, ?, ?, ?, ?)`, values)
          given = text((await tx.all("SELECT LAST_INSERT_ID() AS id"))[0]?.id)
        } else {
          given = text((await tx.all(`INSERT INTO experiments (${columns}) VALUES (?, ?, ?, ?, ?) RETURNING experiment_id`, values))[0]?.experiment_id)
        }
        const tags = Object.entries(experiment.tags).map(([key, value]) => [key, value, Number(given)])
        await insertMany(tx, "experiment_tags", [K, V, "experiment_id"], tags, true)
        return given
      }),

    /** Adds the experiment tags an existing experiment lacks; its own values stay. */
    addExperimentTags: (id: string, tags: Record<string, string>): Promise<void> =>
      client.transaction((tx) => insertMany(tx, "experiment_tags", [K, V, "experiment_id"], Object.entries(tags).map(([key, value]) => [key, value, Number(id)]), true)),

    /** The run as the destination holds it, null when it has no run with this id. */
    readRun: async (db: DbSession, runId: string): Promise<RunContent | null> => {
      const row = (await db.all("SELECT * FROM runs WHERE run_uuid = ?", [runId]))[0]
      if (!row) return null
      const pairs = async (table: string) => Object.fromEntries((await db.all(`SELECT ${K}, ${V} FROM ${table} WHERE run_uuid = ?`, [runId])).map((r) => [text(r.key), text(r.value)]))
      const latest = await db.all(`SELECT ${K}, ${V}, ${TS}, step, is_nan FROM latest_metrics WHERE run_uuid = ?`, [runId])
      const count = await db.all("SELECT COUNT(*) AS n FROM metrics WHERE run_uuid = ?", [runId])
      const strings = ["name", "source_type", "source_name", "entry_point_name", "user_id", "status", "source_version", "lifecycle_stage", "artifact_uri", "experiment_id"] as const
      return {
        run: {
          run_uuid: text(row.run_uuid),
          ...Object.fromEntries(strings.map((column) => [column, text(row[column])])),
          start_time: num(row.start_time),
          end_time: numOrNull(row.end_time),
          deleted_time: numOrNull(row.deleted_time),
        },
        params: await pairs("params"),
        tags: await pairs("tags"),
        latest: Object.fromEntries(latest.map((r) => [text(r.key), pointText({ value: num(r.value), isNan: flag(r.is_nan), step: num(r.step), timestamp: num(r.timestamp) })])),
        points: num(count[0]?.n),
      }
    },

    /** Inserts every row of a new run inside the caller's transaction. */
    insertRun: async (db: DbSession, rows: RunRows): Promise<void> => {
      const r = rows.run
      const columns = ["run_uuid", "name", "source_type", "source_name", "entry_point_name", "user_id", "status", "start_time", "end_time", "source_version", "lifecycle_stage", "artifact_uri", "experiment_id", "deleted_time"]
      const values = [r.run_uuid, r.name, r.source_type, r.source_name, r.entry_point_name, r.user_id, r.status, r.start_time, r.end_time, r.source_version, r.lifecycle_stage, r.artifact_uri, Number(r.experiment_id), r.deleted_time]
      await insertMany(db, "runs", columns, [values])
      await insertMany(db, "params", [K, V, "run_uuid"], rows.params.map((t) => [t.key, t.value, r.run_uuid]))
      await insertMany(db, "tags", [K, V, "run_uuid"], rows.tags.map((t) => [t.key, t.value, r.run_uuid]))
      const point = (p: StoredPoint) => [p.key, p.value, p.timestamp, r.run_uuid, p.step, dbBool(d, p.isNan)]
      await insertMany(db, "metrics", [K, V, TS, "run_uuid", "step", "is_nan"], rows.points.map(point), true)
      const latest = [...latestPoints(rows.points).values()].map(point)
      await insertMany(db, "latest_metrics", [K, V, TS, "run_uuid", "step", "is_nan"], latest)
    },
  }
}

export type MigrationRows = ReturnType<typeof migrationRows>
