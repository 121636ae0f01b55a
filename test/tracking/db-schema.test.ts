// Schema fidelity: what mlproject creates in real sqlite, PostgreSQL and MariaDB databases, read back from their own catalogs, is MLflow 2.15.1's schema as mlflow-schema.json describes it.
import { afterAll, describe, expect, test } from "bun:test"
import { join } from "node:path"
import { storeFor } from "../../src/tracking/store-for.ts"
import { closeDbStores } from "../../src/tracking/sql/db-store.ts"
import { openDb } from "../../src/tracking/sql/db-client.ts"
import { createIndexSql, createTableSql, type SchemaSpec, type TableSpec } from "../../src/tracking/sql/db-ddl.ts"
import { parseDbUri, type Dialect } from "../../src/tracking/sql/db-uri.ts"
import { pinned } from "../../src/tracking/sql/schema-version.ts"
import spec from "../../src/tracking/sql/mlflow-schema.json" with { type: "json" }
import { introspect, type DbShape, type TableShape } from "../lib/db-introspect.ts"
import { mariadbSkipReason, postgresSkipReason, startMariadb, startPostgres, type DbServer } from "../lib/databases.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const schema = spec as unknown as SchemaSpec
const scratch = tmpdirFor("mlproject-db-schema-")
const servers = await Promise.all([startPostgres(), startMariadb()])
afterAll(async () => {
  await closeDbStores()
  for (const server of servers) await server?.stop()
  await scratch[Symbol.asyncDispose]()
})

// ---- Spellings: each rule maps two spellings of one thing to one; none may join two different things. ----

/**
 * Type names as each server reports them. sqlite keeps the declared text as written. PostgreSQL's format_type() says
 * `character varying(32)` for VARCHAR(32). MariaDB says `int` for INTEGER (its synonym) and shows the display width a
 * type declared without one gets (`int(11)`, `bigint(20)`, `tinyint(4)`; MySQL 8 shows none). TINYINT(1), the width
 * MySQL's BOOL has, is a different spelling and stays one: connectors read it as a boolean.
 */
const typeRules: Record<Dialect, [RegExp, string][]> = {
  sqlite: [],
  postgresql: [[/^character varying\b/, "varchar"]],
  mysql: [[/^integer\b/, "int"], [/^int\(11\)$/, "int"], [/^bigint\(20\)$/, "bigint"], [/^tinyint\(4\)$/, "tinyint"]],
}
const typeSpelling = (dialect: Dialect, type: string): string =>
  dialect === "sqlite" ? type : typeRules[dialect].reduce((t, [pattern, to]) => t.replace(pattern, to), type.toLowerCase())

/**
 * Column defaults. MariaDB reports an implicit NULL default as the word NULL (MySQL 8 as SQL NULL), and a number on a
 * numeric column bare (`0`) where SHOW CREATE TABLE and MLflow's dump quote it (`'0'`): one default either way.
 */
const defaultSpelling = (dialect: Dialect, type: string, value: string | null): string | null => {
  if (dialect !== "mysql" || value === null) return value
  if (value === "NULL") return null
  return /^(tiny|small|medium|big)?int|^double|^float|^decimal/.test(type) ? value.replace(/^'(-?\d+(\.\d+)?)'$/, "$1") : value
}

/**
 * CHECK expressions: whitespace, and the parentheses each server and dump wraps them in, are not part of the
 * expression. MySQL 8 reports each string literal with the charset introducer it added (`_utf8mb4'a'`); MariaDB
 * reports the literal as it was given (`'a'`): on these utf8mb4 columns the two are one value.
 */
const checkSpelling = (dialect: Dialect, sql: string): string => {
  let out = (dialect === "mysql" ? sql.replace(/_utf8mb4'/g, "'") : sql).replace(/\s+/g, " ").trim()
  while (wrapped(out)) out = out.slice(1, -1).trim()
  return out
}
/** Whether the first parenthesis closes at the very end: `(a = 1)`, not `(a) OR (b)`. */
const wrapped = (sql: string): boolean => {
  if (!sql.startsWith("(")) return false
  let depth = 0
  for (let i = 0; i < sql.length; i++) {
    if (sql[i] === "(") depth++
    if (sql[i] === ")" && --depth === 0) return i === sql.length - 1
  }
  return false
}

type Server = "sqlite" | DbServer["kind"]

/**
 * How each server names the action of a foreign key declared without ON DELETE/ON UPDATE. MariaDB says RESTRICT (and
 * NO ACTION only for one declared so; InnoDB treats both alike); MySQL 8, PostgreSQL and sqlite say NO ACTION.
 */
const noAction: Record<Server, string> = { sqlite: "NO ACTION", postgres: "NO ACTION", mariadb: "RESTRICT" }

// ---- The description as each catalog would show it. ----

const sorted = <T>(items: T[]): T[] => [...items].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))

const expectedTable = (dialect: Dialect, server: Server, table: TableSpec): TableShape => {
  const action = (value: string | undefined): string => value ?? noAction[server]
  const shape: TableShape = {
    name: table.name,
    columns: table.columns.map((c) => ({ name: c.name, type: c.type, nullable: c.nullable, default: c.default, autoincrement: c.autoincrement ?? false })),
    primary_key: table.primary_key,
    foreign_keys: table.foreign_keys.map((f) => ({ name: f.name, columns: f.columns, ref_table: f.ref_table, ref_columns: f.ref_columns, on_delete: action(f.on_delete), on_update: action(f.on_update) })),
    unique: table.unique,
    checks: table.checks,
    indexes: table.indexes,
  }
  if (dialect !== "mysql") return shape
  // MySQL names every primary key PRIMARY (a description that names one says what no MySQL can hold), and a UNIQUE
  // constraint is a unique index named by the constraint.
  return {
    ...shape,
    primary_key: { name: table.primary_key.name ?? "PRIMARY", columns: table.primary_key.columns },
    unique: [],
    indexes: [...table.indexes, ...table.unique.map((u) => ({ name: u.name ?? u.columns[0]!, columns: u.columns, unique: true }))],
  }
}

/**
 * MySQL gives a foreign key that no index leads with an index of its own: named after the constraint, or after its
 * first column when the constraint was declared unnamed, as MLflow declares those MySQL calls `<table>_ibfk_<n>`.
 * The description leaves these out; only an index that is exactly that one is set aside.
 */
const withoutImplicitFkIndexes = (dialect: Dialect, table: TableShape, described: TableSpec): TableShape => {
  if (dialect !== "mysql") return table
  const implicitName = (fk: TableShape["foreign_keys"][number]) => (fk.name?.startsWith(`${table.name}_ibfk_`) ? fk.columns[0] : fk.name)
  const implicit = (index: TableShape["indexes"][number]) =>
    !index.unique &&
    !described.indexes.some((d) => d.name === index.name) &&
    table.foreign_keys.some((fk) => index.name === implicitName(fk) && index.columns.join() === fk.columns.join())
  return { ...table, indexes: table.indexes.filter((index) => !implicit(index)) }
}

/** Both sides in one spelling, sets in one order. */
const comparable = (dialect: Dialect, table: TableShape): TableShape => ({
  ...table,
  columns: table.columns.map((c) => ({ ...c, type: typeSpelling(dialect, c.type), default: defaultSpelling(dialect, typeSpelling(dialect, c.type), c.default) })),
  foreign_keys: sorted(table.foreign_keys),
  unique: sorted(table.unique),
  checks: sorted(table.checks.map((c) => ({ name: c.name, sql: checkSpelling(dialect, c.sql) }))),
  indexes: sorted(table.indexes),
})

/** What a catalog lists beyond tables: on PostgreSQL, the sequence behind each nextval() default, owned by its column. */
const expectedOthers = (dialect: Dialect): string[] =>
  dialect !== "postgresql"
    ? []
    : schema.dialects.postgresql.tables.flatMap((t) =>
        t.columns.flatMap((c) => {
          const sequence = /^nextval\('(\w+)'::regclass\)$/.exec(c.default ?? "")?.[1]
          return sequence ? [`sequence ${sequence} ${c.type.toLowerCase()} owned by ${t.name}.${c.name}`] : []
        }),
      )

// ---- The databases. ----

type Backend = { dialect: Dialect; server: Server; label: string; skip: string | null; fresh(): Promise<string> }
const [postgres, mariadb] = servers as [DbServer | null, DbServer | null]
const backends: Backend[] = [
  { dialect: "sqlite", server: "sqlite", label: "sqlite", skip: null, fresh: async () => `sqlite:///${join(scratch.path, "mlflow.db")}` },
  { dialect: "postgresql", server: "postgres", label: `PostgreSQL ${postgres?.version ?? ""}`, skip: postgres ? null : postgresSkipReason, fresh: () => postgres!.newDatabase("schema_fidelity") },
  { dialect: "mysql", server: "mariadb", label: `MariaDB ${mariadb?.version ?? ""}`, skip: mariadb ? null : mariadbSkipReason, fresh: () => mariadb!.newDatabase("schema_fidelity") },
]

/** Lets mlproject create its schema in a new database, then reads that database's catalog on a connection of its own. */
const created = async (backend: Backend): Promise<DbShape> => {
  const uri = await backend.fresh()
  expect(await storeFor(uri).getExperiment("0")).toMatchObject({ experiment_id: "0", name: "Default" })
  const client = await openDb(parseDbUri(uri, scratch.path), { readonly: true })
  try {
    return await introspect[backend.dialect](client)
  } finally {
    await client.close()
  }
}

for (const backend of backends) {
  describe.skipIf(backend.skip !== null)(`MLflow ${schema.mlflow_version}'s schema on ${backend.label}${backend.skip ? ` (${backend.skip})` : ""}`, () => {
    const described = schema.dialects[backend.dialect].tables
    let shape: Promise<DbShape> | undefined
    const db = () => (shape ??= created(backend))

    test("every table, and no other table, view, trigger or sequence", async () => {
      const { tables, others } = await db()
      expect(tables.map((t) => t.name).sort()).toEqual(described.map((t) => t.name).sort())
      expect(others.sort()).toEqual(expectedOthers(backend.dialect).sort())
    })

    test("alembic_version holds one row: the pinned release's head revision", async () => {
      expect(schema.revision).toBe(pinned.revision)
      expect((await db()).revisions).toEqual([pinned.revision])
    })

    test("each table's columns (order, type, nullability, default), keys, foreign keys, unique and check constraints and indexes", async () => {
      const { tables } = await db()
      const actual = Object.fromEntries(
        tables.map((t) => [t.name, comparable(backend.dialect, withoutImplicitFkIndexes(backend.dialect, t, described.find((d) => d.name === t.name)!))]),
      )
      const expected = Object.fromEntries(described.map((t) => [t.name, comparable(backend.dialect, expectedTable(backend.dialect, backend.server, t))]))
      expect(actual).toEqual(expected)
    })
  })
}

// ---- The generator's own output, for a few tables: what the statements above were. ----

const tableOf = (dialect: Dialect, name: string): TableSpec => schema.dialects[dialect].tables.find((t) => t.name === name)!

describe("db-ddl: CREATE statements from the description", () => {
  const cases: { dialect: Dialect; table: string; sql: string[] }[] = [
    {
      dialect: "sqlite",
      table: "tags",
      sql: [
        'CREATE TABLE "tags" (\n\t"key" VARCHAR(250) NOT NULL,\n\t"value" VARCHAR(5000),\n\t"run_uuid" VARCHAR(32) NOT NULL,\n\tCONSTRAINT "tag_pk" PRIMARY KEY ("key", "run_uuid"),\n\tFOREIGN KEY ("run_uuid") REFERENCES "runs" ("run_uuid")\n)',
        'CREATE INDEX "index_tags_run_uuid" ON "tags" ("run_uuid")',
      ],
    },
    {
      dialect: "postgresql",
      table: "experiments",
      sql: [
        'CREATE TABLE "experiments" (\n\t"experiment_id" SERIAL NOT NULL,\n\t"name" VARCHAR(256) NOT NULL,\n\t"artifact_location" VARCHAR(256),\n\t"lifecycle_stage" VARCHAR(32),\n\t"creation_time" BIGINT,\n\t"last_update_time" BIGINT,\n\tCONSTRAINT "experiment_pk" PRIMARY KEY ("experiment_id"),\n\tCONSTRAINT "experiments_name_key" UNIQUE ("name"),\n\tCONSTRAINT "experiments_lifecycle_stage" CHECK ((lifecycle_stage IN (\'active\', \'deleted\')))\n)',
      ],
    },
    {
      dialect: "mysql",
      table: "metrics",
      sql: [
        "CREATE TABLE `metrics` (\n\t`key` VARCHAR(250) NOT NULL,\n\t`value` DOUBLE NOT NULL,\n\t`timestamp` BIGINT NOT NULL,\n\t`run_uuid` VARCHAR(32) NOT NULL,\n\t`step` BIGINT DEFAULT '0' NOT NULL,\n\t`is_nan` TINYINT(1) DEFAULT '0' NOT NULL,\n\tPRIMARY KEY (`key`, `timestamp`, `step`, `run_uuid`, `value`, `is_nan`),\n\tFOREIGN KEY (`run_uuid`) REFERENCES `runs` (`run_uuid`),\n\tCONSTRAINT `metrics_chk_1` CHECK (((`is_nan` in (0,1)))),\n\tCONSTRAINT `metrics_chk_2` CHECK (((`is_nan` in (0,1))))\n)",
        "CREATE INDEX `index_metrics_run_uuid` ON `metrics` (`run_uuid`)",
      ],
    },
    {
      dialect: "mysql",
      table: "experiments",
      sql: [
        "CREATE TABLE `experiments` (\n\t`experiment_id` INTEGER NOT NULL AUTO_INCREMENT,\n\t`name` VARCHAR(256) NOT NULL,\n\t`artifact_location` VARCHAR(256),\n\t`lifecycle_stage` VARCHAR(32),\n\t`creation_time` BIGINT,\n\t`last_update_time` BIGINT,\n\tPRIMARY KEY (`experiment_id`),\n\tCONSTRAINT `experiments_lifecycle_stage` CHECK (((`lifecycle_stage` in ('active','deleted'))))\n)",
        "CREATE UNIQUE INDEX `name` ON `experiments` (`name`)",
      ],
    },
  ]
  for (const { dialect, table, sql } of cases) {
    test(`${dialect} ${table}`, () => {
      const spec = tableOf(dialect, table)
      expect([createTableSql(dialect, spec), ...createIndexSql(dialect, spec)]).toEqual(sql)
    })
  }
})
