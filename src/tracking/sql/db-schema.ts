// MLflow's schema in a database: created whole at the pinned release's head, or an existing one checked by its alembic revision.
import { ToolError } from "../../errors.ts"
import type { DbClient, DbSession } from "./db-client.ts"
import type { SchemaSpec } from "./db-ddl.ts"
import { pinned, revisionState } from "./schema-version.ts"

export type DbSchema = {
  revision: string
  /** experiments carry a workspace column (MLflow ≥ 3.10) */
  workspaces: boolean
  /** the longest tag value the tags table holds */
  tagValueLimit: number
  created: boolean
}

/** The description is read only to create a schema: every other call on an existing database skips parsing it. */
const loadSchema = async (): Promise<SchemaSpec> => (await import("./mlflow-schema.json", { with: { type: "json" } })).default as unknown as SchemaSpec

/** A database made by MLflow < 2.17 (or created at the pinned 2.15.1) holds tag values of 5000 characters only: a longer one is refused whole, never cut. */
export const checkTagValue = (db: DbSchema, place: string, tag: { key: string; value: string }): void => {
  if (tag.value.length <= db.tagValueLimit) return
  throw new ToolError(
    "tracking.value.too_long",
    `Tag '${tag.key}' has a value of ${tag.value.length} characters; the tags table of ${place} (MLflow schema ${db.revision}) holds at most ${db.tagValueLimit}`,
    { hint: "shorten the value, or upgrade the database with 'mlflow db upgrade <uri>' (MLflow >= 2.17 holds 8000)", exitCode: 2 },
  )
}

const tableNames = async (db: DbSession, dialect: DbClient["dialect"]): Promise<Set<string>> => {
  const sql =
    dialect === "sqlite"
      ? "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
      : dialect === "postgresql"
        ? "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()"
        : "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()"
  return new Set((await db.all(sql)).map((row) => String(row.name ?? row.NAME ?? row.TABLE_NAME)))
}

const currentRevision = async (db: DbSession): Promise<string | null> => {
  const rows = await db.all("SELECT version_num FROM alembic_version")
  return rows.length === 1 ? String(rows[0]!.version_num) : rows.length === 0 ? null : rows.map((r) => String(r.version_num)).join(",")
}

const createAll = async (db: DbSession, dialect: DbClient["dialect"], existing: ReadonlySet<string>): Promise<void> => {
  const schema = await loadSchema()
  // The DDL writer loads with the schema description: only a new database needs either.
  const { createIndexSql, createTableSql } = await import("./db-ddl.ts")
  for (const table of schema.dialects[dialect].tables) {
    // A MySQL creation cut short (its DDL commits statement by statement) is finished here, never started twice.
    if (existing.has(table.name)) continue
    await db.run(createTableSql(dialect, table))
    for (const index of createIndexSql(dialect, table)) await db.run(index)
  }
  // Last: a database that has alembic_version has every table.
  await db.run("INSERT INTO alembic_version (version_num) VALUES (?)", [schema.revision])
}

const notMlflow = (place: string, tables: ReadonlySet<string>): ToolError =>
  new ToolError("tracking.db.invalid", `Tracking database ${place} holds tables (${[...tables].slice(0, 5).join(", ")}${tables.size > 5 ? ", …" : ""}) but no MLflow schema (no alembic_version table)`, {
    hint: "point MLFLOW_TRACKING_URI at an MLflow database, or at an empty database for mlproject to create MLflow's schema in",
    exitCode: 2,
  })

/** The revision check for a database MLflow (or we) made. */
const checkRevision = (revision: string | null, place: string): DbSchema => {
  if (revision === null)
    throw new ToolError("tracking.db.invalid", `Tracking database ${place} has an empty alembic_version table: its MLflow schema revision is unknown`, {
      hint: `run 'mlflow db upgrade <uri>' with MLflow ${pinned.release} to stamp it`,
      exitCode: 2,
    })
  const state = revisionState(revision)
  if (state.kind === "unknown")
    throw new ToolError("tracking.db.revision", `Tracking database ${place} is at MLflow schema revision ${revision}, which this mlproject does not know (it writes revisions of ${state.supported})`, {
      hint: "a newer MLflow made it: upgrade mlproject, or record into another database",
      exitCode: 2,
    })
  if (state.kind === "too_old")
    throw new ToolError("tracking.db.revision", `Tracking database ${place} is at MLflow schema revision ${revision} (${state.release}), older than mlproject writes (${state.supported})`, {
      hint: "upgrade it with 'mlflow db upgrade <uri>' (take a backup first)",
      exitCode: 2,
    })
  return { revision, workspaces: false, tagValueLimit: state.tagValueLimit, created: false }
}

/** Whether experiments has MLflow's workspace column (added in 3.x): then only the default workspace is ours. */
const hasWorkspaces = async (db: DbSession, dialect: DbClient["dialect"]): Promise<boolean> => {
  const rows =
    dialect === "sqlite"
      ? await db.all("SELECT name FROM pragma_table_info('experiments')")
      : await db.all(
          `SELECT column_name AS name FROM information_schema.columns WHERE table_name = 'experiments' AND table_schema = ${dialect === "postgresql" ? "current_schema()" : "DATABASE()"}`,
        )
  return rows.some((row) => String(row.name ?? row.COLUMN_NAME).toLowerCase() === "workspace")
}

const opened = async (db: DbSession, dialect: DbClient["dialect"], revision: string | null, place: string): Promise<DbSchema> => {
  const schema = checkRevision(revision, place)
  return { ...schema, workspaces: await hasWorkspaces(db, dialect) }
}

/**
 * sqlite, the common case: a database MLflow (or we) made, opened again. One statement reads the revision and whether
 * experiments and its workspace column are there, where the general look takes three. Null when that look is needed:
 * no alembic_version table (a new or foreign database), no row in it, or no experiments table.
 */
const reopenedSqlite = async (db: DbSession, place: string): Promise<DbSchema | null> => {
  let rows: Awaited<ReturnType<DbSession["all"]>>
  try {
    rows = await db.all(
      "SELECT version_num, (SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'experiments') AS experiments, " +
        "(SELECT count(*) FROM pragma_table_info('experiments') WHERE lower(name) = 'workspace') AS workspaces FROM alembic_version",
    )
  } catch {
    // The general look reads the tables and reports what it finds (or the error again).
    return null
  }
  const first = rows[0]
  if (!first || Number(first.experiments) === 0) return null
  const revision = rows.length === 1 ? String(first.version_num) : rows.map((r) => String(r.version_num)).join(",")
  return { ...checkRevision(revision, place), workspaces: Number(first.workspaces) > 0 }
}

/**
 * Opens MLflow's schema: an empty database gets the whole schema of the pinned release at once (under a lock, so two
 * processes creating one new database end with one schema); an existing one must be at a revision we write safely.
 */
export const ensureSchema = async (client: DbClient, place: string): Promise<DbSchema> => {
  const dialect = client.dialect
  const reopened = dialect === "sqlite" ? await reopenedSqlite(client, place) : null
  if (reopened) return reopened
  const tables = await tableNames(client, dialect)
  if (tables.has("alembic_version") && tables.has("experiments")) return opened(client, dialect, await currentRevision(client), place)
  const schema = await loadSchema()
  const ours = new Set(schema.dialects[dialect].tables.map((t) => t.name))
  const foreign = [...tables].filter((t) => !ours.has(t))
  if (foreign.length > 0 || tables.has("alembic_version")) throw notMlflow(place, tables)
  const created: DbSchema = { revision: schema.revision, workspaces: false, tagValueLimit: 5000, created: true }
  if (dialect === "mysql") {
    // MySQL commits each CREATE TABLE: a named lock, not a transaction, keeps a second creator out.
    await client.run("SELECT GET_LOCK('mlproject-mlflow-schema', 120)")
    try {
      const now = await tableNames(client, dialect)
      if (now.has("alembic_version") && (await currentRevision(client)) !== null) return opened(client, dialect, await currentRevision(client), place)
      await createAll(client, dialect, now)
      return created
    } finally {
      await client.run("SELECT RELEASE_LOCK('mlproject-mlflow-schema')")
    }
  }
  // sqlite stays in its rollback-journal mode: WAL's shared-memory file is made and removed by every short-lived
  // process, and one that mapped it as another removed it died of SIGBUS in the 50-process test. Writers queue on
  // BEGIN IMMEDIATE and the busy timeout instead.
  return client.transaction(async (tx) => {
    if (dialect === "postgresql") await tx.run("SELECT pg_advisory_xact_lock(7011946350)")
    const now = await tableNames(tx, dialect)
    if (now.has("alembic_version")) return opened(tx, dialect, await currentRevision(tx), place)
    await createAll(tx, dialect, now)
    return created
  })
}
