// What a real database holds, read from its own catalog (sqlite_master and pragmas, pg_catalog, information_schema), in the server's own spellings.
import type { DbSession } from "../../src/tracking/sql/db-client.ts"
import type { Dialect } from "../../src/tracking/sql/db-uri.ts"

export type ColumnShape = { name: string; type: string; nullable: boolean; default: string | null; autoincrement: boolean }
export type KeyShape = { name: string | null; columns: string[] }
export type ForeignKeyShape = KeyShape & { ref_table: string; ref_columns: string[]; on_delete: string; on_update: string }
export type TableShape = {
  name: string
  columns: ColumnShape[]
  primary_key: KeyShape
  foreign_keys: ForeignKeyShape[]
  unique: KeyShape[]
  checks: { name: string | null; sql: string }[]
  indexes: { name: string; columns: string[]; unique: boolean }[]
}
export type DbShape = {
  tables: TableShape[]
  /** Everything else in the schema: views, triggers, sequences (with the column that owns each), table options. */
  others: string[]
  /** alembic_version's rows. */
  revisions: string[]
}

const text = (value: unknown): string => String(value)
const list = (value: unknown): string[] => (value === null || value === undefined || value === "" ? [] : text(value).split(","))

/** A name as sqlite's CREATE TABLE text may quote it. */
const unquote = (name: string): string => name.trim().replace(/^(["`[])(.*)[\]"`]$/s, "$2")

/** Splits at commas outside parentheses and quotes. */
const splitTop = (body: string): string[] => {
  const parts: string[] = []
  let depth = 0
  let quote: string | null = null
  let start = 0
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!
    if (quote) quote = c === quote ? null : quote
    else if (c === "'" || c === '"' || c === "`") quote = c
    else if (c === "(") depth++
    else if (c === ")") depth--
    else if (c === "," && depth === 0) {
      parts.push(body.slice(start, i).trim())
      start = i + 1
    }
  }
  parts.push(body.slice(start).trim())
  return parts
}

type TextConstraints = { pk: KeyShape | null; unique: KeyShape[]; fks: KeyShape[]; checks: { name: string | null; sql: string }[]; options: string }

/**
 * The table constraints of a CREATE TABLE statement as sqlite keeps it: the only place it keeps constraint names and
 * CHECK expressions. Constraints written inside a column definition are refused rather than half read.
 */
const parseCreateTable = (sql: string): TextConstraints => {
  const open = sql.indexOf("(")
  const close = sql.lastIndexOf(")")
  const out: TextConstraints = { pk: null, unique: [], fks: [], checks: [], options: sql.slice(close + 1).trim() }
  const names = (inner: string) => inner.split(",").map(unquote)
  for (const part of splitTop(sql.slice(open + 1, close))) {
    const constraint = /^CONSTRAINT\s+("[^"]+"|`[^`]+`|\[[^\]]+\]|\w+)\s+/i.exec(part)
    const name = constraint ? unquote(constraint[1]!) : null
    const rest = constraint ? part.slice(constraint[0].length) : part
    let m: RegExpExecArray | null
    if ((m = /^PRIMARY\s+KEY\s*\(([^)]*)\)$/i.exec(rest))) out.pk = { name, columns: names(m[1]!) }
    else if ((m = /^UNIQUE\s*\(([^)]*)\)$/i.exec(rest))) out.unique.push({ name, columns: names(m[1]!) })
    else if ((m = /^FOREIGN\s+KEY\s*\(([^)]*)\)\s*REFERENCES\b/i.exec(rest))) out.fks.push({ name, columns: names(m[1]!) })
    else if ((m = /^CHECK\s*\((.*)\)$/is.exec(rest))) out.checks.push({ name, sql: m[1]! })
    else if (name) throw new Error(`unreadable table constraint: ${part}`)
    else if (/\b(CONSTRAINT|PRIMARY|UNIQUE|REFERENCES|CHECK|COLLATE|GENERATED|AS)\b/i.test(part.replace(/^("[^"]+"|`[^`]+`|\S+)/, "")))
      throw new Error(`a constraint inside a column definition, which this reader does not read: ${part}`)
  }
  return out
}

const sameColumns = (a: readonly string[], b: readonly string[]) => a.join(",") === b.join(",")

const sqlite = async (db: DbSession): Promise<DbShape> => {
  const objects = await db.all("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name")
  const others = objects.filter((o) => o.type !== "table" && o.type !== "index").map((o) => `${o.type} ${o.name}`)
  const tables: TableShape[] = []
  for (const object of objects.filter((o) => o.type === "table")) {
    const name = text(object.name)
    const parsed = parseCreateTable(text(object.sql))
    if (parsed.options) others.push(`table ${name} options: ${parsed.options}`)
    const info = await db.all("SELECT name, type, \"notnull\" AS not_null, dflt_value, pk FROM pragma_table_info(?) ORDER BY cid", [name])
    const pk = info.filter((c) => Number(c.pk) > 0).sort((a, b) => Number(a.pk) - Number(b.pk)).map((c) => text(c.name))
    // A single-column INTEGER primary key is the rowid: sqlite numbers new rows itself.
    const rowid = (c: (typeof info)[number]) => pk.length === 1 && pk[0] === c.name && text(c.type).toUpperCase() === "INTEGER"
    const columns = info.map((c) => ({ name: text(c.name), type: text(c.type), nullable: Number(c.not_null) === 0, default: c.dflt_value === null ? null : text(c.dflt_value), autoincrement: rowid(c) }))
    const fkRows = await db.all('SELECT id, seq, "table" AS ref_table, "from" AS col, "to" AS ref_col, on_update, on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq', [name])
    const foreign_keys = [...new Set(fkRows.map((r) => Number(r.id)))].map((id) => {
      const rows = fkRows.filter((r) => Number(r.id) === id)
      const fkColumns = rows.map((r) => text(r.col))
      return {
        name: parsed.fks.find((f) => sameColumns(f.columns, fkColumns))?.name ?? null,
        columns: fkColumns,
        ref_table: text(rows[0]!.ref_table),
        ref_columns: rows.map((r) => text(r.ref_col)),
        on_delete: text(rows[0]!.on_delete),
        on_update: text(rows[0]!.on_update),
      }
    })
    const indexes: TableShape["indexes"] = []
    const enforced: string[][] = []
    for (const index of await db.all("SELECT name, \"unique\" AS is_unique, origin FROM pragma_index_list(?)", [name])) {
      const indexColumns = (await db.all("SELECT name FROM pragma_index_info(?) ORDER BY seqno", [text(index.name)])).map((r) => text(r.name))
      if (index.origin === "c") indexes.push({ name: text(index.name), columns: indexColumns, unique: Number(index.is_unique) === 1 })
      else if (Number(index.is_unique) === 1) enforced.push(indexColumns)
      if (index.origin === "u" && !parsed.unique.some((u) => sameColumns(u.columns, indexColumns))) others.push(`${name}: unique index ${index.name} without a UNIQUE constraint`)
    }
    // sqlite builds no second index for a UNIQUE constraint that repeats the primary key: the text is what says it is there.
    for (const u of parsed.unique) if (!enforced.some((e) => sameColumns(e, u.columns))) others.push(`${name}: UNIQUE (${u.columns}) enforced by no index`)
    if (!sameColumns(parsed.pk?.columns ?? [], pk)) others.push(`${name}: PRIMARY KEY text (${parsed.pk?.columns}) is not pragma's (${pk})`)
    tables.push({ name, columns, primary_key: { name: parsed.pk?.name ?? null, columns: pk }, foreign_keys, unique: parsed.unique, checks: parsed.checks, indexes })
  }
  return { tables, others, revisions: await revisions(db) }
}

const revisions = async (db: DbSession): Promise<string[]> => (await db.all("SELECT version_num FROM alembic_version")).map((r) => text(r.version_num))

/** PostgreSQL's FK action codes (pg_constraint.confupdtype/confdeltype). */
const pgActions: Record<string, string> = { a: "NO ACTION", r: "RESTRICT", c: "CASCADE", n: "SET NULL", d: "SET DEFAULT" }

const postgresql = async (db: DbSession): Promise<DbShape> => {
  const relations = await db.all("SELECT c.relname AS name, c.relkind AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() ORDER BY c.relname")
  // Indexes are read per table below; composite types come with every table.
  const others = relations.filter((r) => !["r", "i", "S"].includes(text(r.kind))).map((r) => `relation ${r.name} (relkind ${r.kind})`)
  const sequences = await db.all(
    `SELECT s.relname AS name, format_type(q.seqtypid, NULL) AS type, t.relname AS owner_table, a.attname AS owner_column
     FROM pg_sequence q JOIN pg_class s ON s.oid = q.seqrelid JOIN pg_namespace n ON n.oid = s.relnamespace
     LEFT JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
     LEFT JOIN pg_class t ON t.oid = d.refobjid LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
     WHERE n.nspname = current_schema() ORDER BY s.relname`,
  )
  for (const s of sequences) others.push(`sequence ${s.name} ${s.type} owned by ${s.owner_table ?? "nothing"}.${s.owner_column ?? ""}`)
  const triggers = await db.all("SELECT tgname FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND NOT g.tgisinternal")
  for (const t of triggers) others.push(`trigger ${t.tgname}`)
  const rel = "(quote_ident(current_schema()) || '.' || quote_ident(?))::regclass"
  const attnames = (array: string, rel: string) => `(SELECT string_agg(a.attname, ',' ORDER BY k.i) FROM unnest(${array}) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = ${rel} AND a.attnum = k.n)`
  const tables: TableShape[] = []
  for (const { name } of relations.filter((r) => r.kind === "r")) {
    const columns = await db.all(
      `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, NOT a.attnotnull AS nullable, pg_get_expr(d.adbin, d.adrelid) AS dflt, a.attidentity AS identity, a.attgenerated AS generated
       FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       WHERE a.attrelid = ${rel} AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
      [name],
    )
    for (const c of columns) if (c.identity || c.generated) others.push(`${name}.${c.name}: identity '${c.identity}', generated '${c.generated}'`)
    const owned = (column: unknown) => sequences.some((s) => s.owner_table === name && s.owner_column === column)
    const constraints = await db.all(
      `SELECT c.conname AS name, c.contype AS type, pg_get_constraintdef(c.oid, true) AS def, ${attnames("c.conkey", "c.conrelid")} AS columns,
              r.relname AS ref_table, ${attnames("c.confkey", "c.confrelid")} AS ref_columns, c.confdeltype AS on_delete, c.confupdtype AS on_update
       FROM pg_constraint c LEFT JOIN pg_class r ON r.oid = c.confrelid WHERE c.conrelid = ${rel} ORDER BY c.conname`,
      [name],
    )
    const of = (type: string) => constraints.filter((c) => c.type === type)
    for (const c of constraints) if (!["p", "f", "u", "c", "n"].includes(text(c.type))) others.push(`${name}: constraint ${c.name} of type ${c.type}`)
    const pk = of("p")[0]
    const indexes = await db.all(
      `SELECT i.relname AS name, x.indisunique AS is_unique, ${attnames("x.indkey", "x.indrelid")} AS columns, pg_get_indexdef(x.indexrelid) AS def,
              x.indexprs IS NOT NULL OR x.indpred IS NOT NULL AS partial, EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) AS backs_constraint
       FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = ${rel} ORDER BY i.relname`,
      [name],
    )
    for (const i of indexes) if (i.partial || !/ USING btree \(/.test(text(i.def))) others.push(`${name}: index ${i.def}`)
    tables.push({
      name: text(name),
      columns: columns.map((c) => ({ name: text(c.name), type: text(c.type), nullable: Boolean(c.nullable), default: c.dflt === null ? null : text(c.dflt), autoincrement: /^nextval\(/.test(text(c.dflt)) && owned(c.name) })),
      primary_key: { name: pk ? text(pk.name) : null, columns: list(pk?.columns) },
      foreign_keys: of("f").map((c) => ({ name: text(c.name), columns: list(c.columns), ref_table: text(c.ref_table), ref_columns: list(c.ref_columns), on_delete: pgActions[text(c.on_delete)]!, on_update: pgActions[text(c.on_update)]! })),
      unique: of("u").map((c) => ({ name: text(c.name), columns: list(c.columns) })),
      checks: of("c").map((c) => ({ name: text(c.name), sql: text(c.def).replace(/^CHECK /, "") })),
      // The indexes behind the primary key and unique constraints are those constraints, compared as such.
      indexes: indexes.filter((i) => !i.backs_constraint).map((i) => ({ name: text(i.name), columns: list(i.columns), unique: Boolean(i.is_unique) })),
    })
  }
  return { tables, others, revisions: await revisions(db) }
}

const mysql = async (db: DbSession): Promise<DbShape> => {
  const here = "TABLE_SCHEMA = DATABASE()"
  const relations = await db.all(`SELECT TABLE_NAME AS name, TABLE_TYPE AS type FROM information_schema.TABLES WHERE ${here} ORDER BY TABLE_NAME`)
  const others = relations.filter((r) => r.type !== "BASE TABLE").map((r) => `${r.type} ${r.name}`)
  for (const t of await db.all("SELECT TRIGGER_NAME AS name FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()")) others.push(`trigger ${t.name}`)
  const tables: TableShape[] = []
  for (const { name } of relations.filter((r) => r.type === "BASE TABLE")) {
    const columns = await db.all(
      `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, IS_NULLABLE AS nullable, COLUMN_DEFAULT AS dflt, EXTRA AS extra FROM information_schema.COLUMNS WHERE ${here} AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
      [name],
    )
    for (const c of columns) if (c.extra && c.extra !== "auto_increment") others.push(`${name}.${c.name}: ${c.extra}`)
    const constraints = await db.all(`SELECT CONSTRAINT_NAME AS name, CONSTRAINT_TYPE AS type FROM information_schema.TABLE_CONSTRAINTS WHERE ${here} AND TABLE_NAME = ?`, [name])
    for (const c of constraints) if (!["PRIMARY KEY", "UNIQUE", "FOREIGN KEY", "CHECK"].includes(text(c.type))) others.push(`${name}: constraint ${c.name} ${c.type}`)
    const statistics = await db.all(
      `SELECT INDEX_NAME AS name, NON_UNIQUE AS non_unique, COLUMN_NAME AS col, SUB_PART AS sub_part, INDEX_TYPE AS type FROM information_schema.STATISTICS WHERE ${here} AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX`,
      [name],
    )
    const indexNames = [...new Set(statistics.map((s) => text(s.name)))]
    const indexColumns = (index: string) =>
      // A prefix index (only the first N characters of a column) is shown as col(N): it is not an index of the column.
      statistics.filter((s) => s.name === index).map((s) => (s.sub_part === null ? text(s.col) : `${s.col}(${s.sub_part})`))
    for (const s of statistics) if (s.type !== "BTREE") others.push(`${name}: index ${s.name} is ${s.type}`)
    const uniqueIndexes = indexNames.filter((i) => i !== "PRIMARY" && statistics.some((s) => s.name === i && Number(s.non_unique) === 0))
    const uniqueConstraints = constraints.filter((c) => c.type === "UNIQUE").map((c) => text(c.name))
    if ([...uniqueIndexes].sort().join() !== [...uniqueConstraints].sort().join()) others.push(`${name}: unique indexes ${uniqueIndexes} but UNIQUE constraints ${uniqueConstraints}`)
    const keyUsage = await db.all(
      `SELECT k.CONSTRAINT_NAME AS name, k.COLUMN_NAME AS col, k.REFERENCED_TABLE_NAME AS ref_table, k.REFERENCED_COLUMN_NAME AS ref_col, r.DELETE_RULE AS on_delete, r.UPDATE_RULE AS on_update
       FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.REFERENTIAL_CONSTRAINTS r ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME
       WHERE k.${here} AND k.TABLE_NAME = ? AND k.REFERENCED_TABLE_NAME IS NOT NULL ORDER BY k.CONSTRAINT_NAME, k.ORDINAL_POSITION`,
      [name],
    )
    // MariaDB's CHECK_CONSTRAINTS has TABLE_NAME (check names are per table there); MySQL 8's has not (they are per schema).
    const checks = await db.all("SELECT CONSTRAINT_NAME AS name, CHECK_CLAUSE AS clause FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY CONSTRAINT_NAME", [name])
    tables.push({
      name: text(name),
      columns: columns.map((c) => ({ name: text(c.name), type: text(c.type), nullable: c.nullable === "YES", default: c.dflt === null ? null : text(c.dflt), autoincrement: c.extra === "auto_increment" })),
      // MySQL calls every primary key PRIMARY, whatever name its CREATE TABLE gave.
      primary_key: { name: indexNames.includes("PRIMARY") ? "PRIMARY" : null, columns: indexColumns("PRIMARY") },
      foreign_keys: [...new Set(keyUsage.map((k) => text(k.name)))].map((fk) => {
        const rows = keyUsage.filter((k) => k.name === fk)
        return { name: fk, columns: rows.map((r) => text(r.col)), ref_table: text(rows[0]!.ref_table), ref_columns: rows.map((r) => text(r.ref_col)), on_delete: text(rows[0]!.on_delete), on_update: text(rows[0]!.on_update) }
      }),
      // A UNIQUE constraint is a unique index in MySQL: it is listed once, among the indexes.
      unique: [],
      checks: checks.map((c) => ({ name: text(c.name), sql: text(c.clause) })),
      indexes: indexNames.filter((i) => i !== "PRIMARY").map((i) => ({ name: i, columns: indexColumns(i), unique: uniqueIndexes.includes(i) })),
    })
  }
  return { tables, others, revisions: await revisions(db) }
}

export const introspect: Record<Dialect, (db: DbSession) => Promise<DbShape>> = { sqlite, postgresql, mysql }
