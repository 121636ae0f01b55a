// CREATE TABLE and CREATE INDEX statements for one dialect, from the checked-in description of MLflow's schema.
import type { Dialect } from "./db-uri.ts"
import { quoteName } from "./db-client.ts"

export type ColumnSpec = { name: string; type: string; nullable: boolean; default: string | null; autoincrement?: boolean; generated?: string }
export type ForeignKeySpec = { name: string | null; columns: string[]; ref_table: string; ref_columns: string[]; on_delete?: string; on_update?: string }
export type TableSpec = {
  name: string
  columns: ColumnSpec[]
  primary_key: { name: string | null; columns: string[] }
  foreign_keys: ForeignKeySpec[]
  unique: { name: string | null; columns: string[] }[]
  checks: { name: string | null; sql: string }[]
  indexes: { name: string; columns: string[]; unique: boolean }[]
}
export type SchemaSpec = { mlflow_version: string; revision: string; dialects: Record<Dialect, { tables: TableSpec[] }> }

/** A default as the description holds it (the server's own spelling, `'0'::bigint`) back to the SQL that makes it. */
const defaultSql = (dialect: Dialect, text: string): string => (dialect === "postgresql" ? text.replace(/::[a-z][a-z ]*(\[\])?$/i, "") : text)

/**
 * A CHECK as the description holds it (the server's spelling) back to what MLflow's SQLAlchemy wrote: the IN list.
 * PostgreSQL keeps `s IN ('a', 'b')` on a VARCHAR column as `s::text = ANY (ARRAY['a'::character varying, …]::text[])`
 * but parses that text into another tree (`'a'::character varying::text`, …). MySQL 8 adds the connection's charset
 * introducer (`_utf8mb4'a'`) to each literal by itself; MariaDB keeps whatever it is given.
 */
const checkSql = (dialect: Dialect, sql: string): string => {
  if (dialect === "mysql") return sql.replace(/_utf8mb4'/g, "'")
  if (dialect !== "postgresql") return sql
  return sql.replace(/(\w+)::text = ANY \(ARRAY\[([^\]]*)\]::text\[\]\)/g, (_, column: string, items: string) => `${column} IN (${items.replace(/::character varying/g, "")})`)
}

/**
 * MySQL's own name for an unnamed foreign key (`runs_ibfk_1`) is left to MySQL: the index it adds for the key is then
 * named after the column, as in a database MLflow made; named, the index would take the constraint's name.
 */
const fkName = (dialect: Dialect, table: string, name: string | null): string | null => (dialect === "mysql" && name?.startsWith(`${table}_ibfk_`) ? null : name)

const columnSql = (dialect: Dialect, column: ColumnSpec): string => {
  const name = quoteName(dialect, column.name)
  // PostgreSQL's SERIAL is the sequence and its nextval() default in one word, as SQLAlchemy creates them.
  if (column.autoincrement && dialect === "postgresql") return `${name} SERIAL NOT NULL`
  const parts = [name, column.type]
  if (column.generated) parts.push(`GENERATED ALWAYS AS (${column.generated}) STORED`)
  if (column.default !== null && !column.generated && !(column.autoincrement && dialect === "postgresql")) parts.push(`DEFAULT ${defaultSql(dialect, column.default)}`)
  if (!column.nullable) parts.push("NOT NULL")
  if (column.autoincrement && dialect === "mysql") parts.push("AUTO_INCREMENT")
  return parts.join(" ")
}

const names = (dialect: Dialect, columns: readonly string[]): string => columns.map((c) => quoteName(dialect, c)).join(", ")
const named = (dialect: Dialect, name: string | null): string => (name ? `CONSTRAINT ${quoteName(dialect, name)} ` : "")

export const createTableSql = (dialect: Dialect, table: TableSpec): string => {
  const lines = table.columns.map((column) => columnSql(dialect, column))
  if (table.primary_key.columns.length > 0) lines.push(`${named(dialect, table.primary_key.name)}PRIMARY KEY (${names(dialect, table.primary_key.columns)})`)
  for (const unique of table.unique) lines.push(`${named(dialect, unique.name)}UNIQUE (${names(dialect, unique.columns)})`)
  for (const fk of table.foreign_keys) {
    const actions = `${fk.on_delete ? ` ON DELETE ${fk.on_delete}` : ""}${fk.on_update ? ` ON UPDATE ${fk.on_update}` : ""}`
    lines.push(`${named(dialect, fkName(dialect, table.name, fk.name))}FOREIGN KEY (${names(dialect, fk.columns)}) REFERENCES ${quoteName(dialect, fk.ref_table)} (${names(dialect, fk.ref_columns)})${actions}`)
  }
  for (const check of table.checks) lines.push(`${named(dialect, check.name)}CHECK (${checkSql(dialect, check.sql)})`)
  return `CREATE TABLE ${quoteName(dialect, table.name)} (\n\t${lines.join(",\n\t")}\n)`
}

export const createIndexSql = (dialect: Dialect, table: TableSpec): string[] =>
  table.indexes.map((index) => `CREATE ${index.unique ? "UNIQUE " : ""}INDEX ${quoteName(dialect, index.name)} ON ${quoteName(dialect, table.name)} (${names(dialect, index.columns)})`)
