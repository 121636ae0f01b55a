// One small client over the three databases: bun:sqlite for files, Bun.SQL for PostgreSQL and MySQL; `?` placeholders.
import type { Database } from "bun:sqlite"
import type { DbTarget, Dialect, ServerTarget, SqliteTarget } from "./db-uri.ts"

export type Row = Record<string, unknown>

/** What a statement runs on: the client itself, or one transaction of it. */
export type DbSession = {
  all(sql: string, params?: readonly unknown[]): Promise<Row[]>
  run(sql: string, params?: readonly unknown[]): Promise<void>
}

export type DbClient = DbSession & {
  readonly dialect: Dialect
  /** Runs `fn` in one transaction: all of it is written, or none (a failure or a kill rolls it back). */
  transaction<T>(fn: (tx: DbSession) => Promise<T>): Promise<T>
  close(): Promise<void>
}

/** A name as the dialect quotes it: `key`, `value` and `timestamp` are reserved words somewhere. */
export const quoteName = (dialect: Dialect, name: string): string => (dialect === "mysql" ? `\`${name}\`` : `"${name}"`)

/** A boolean as each dialect stores MLflow's Boolean columns. */
export const dbBool = (dialect: Dialect, value: boolean): boolean | number => (dialect === "postgresql" ? value : value ? 1 : 0)

/** How long a writer waits for another process's lock on a sqlite file before SQLITE_BUSY. */
const sqliteBusyMs = 60_000

/**
 * One connection per file and process: a second connection in the same thread would wait in sqlite's busy handler
 * (which sleeps the thread) for a lock the first can never release. Transactions on it take turns.
 */
const sqliteClients = new Map<string, { client: Promise<DbClient>; users: number }>()

const openSqlite = async (target: SqliteTarget, readonly: boolean): Promise<DbClient> => {
  const key = `${readonly ? "ro" : "rw"}:${target.path}`
  let shared = sqliteClients.get(key)
  if (!shared) {
    shared = { client: connectSqlite(target, readonly), users: 0 }
    sqliteClients.set(key, shared)
  }
  const entry = shared
  entry.users++
  let client: DbClient
  try {
    client = await entry.client
  } catch (error) {
    if (sqliteClients.get(key) === entry) sqliteClients.delete(key)
    throw error
  }
  let closed = false
  return {
    ...client,
    // The file closes when its last user closes it.
    async close() {
      if (closed) return
      closed = true
      if (--entry.users > 0) return
      if (sqliteClients.get(key) === entry) sqliteClients.delete(key)
      await client.close()
    },
  }
}

const connectSqlite = async (target: SqliteTarget, readonly: boolean): Promise<DbClient> => {
  const { Database } = await import("bun:sqlite")
  const db: Database = readonly ? new Database(target.path, { readonly: true }) : new Database(target.path, { create: true, readwrite: true })
  db.run(`PRAGMA busy_timeout = ${sqliteBusyMs}`)
  db.run("PRAGMA foreign_keys = ON")
  const session: DbSession = {
    all: async (sql, params = []) => db.query(sql).all(...(params as never[])) as Row[],
    run: async (sql, params = []) => void db.query(sql).run(...(params as never[])),
  }
  let turn: Promise<unknown> = Promise.resolve()
  return {
    dialect: "sqlite",
    ...session,
    transaction(fn) {
      const mine = turn.then(async () => {
        // IMMEDIATE takes the write lock at BEGIN: writers of other processes queue on the busy timeout instead of
        // one failing mid-way.
        db.run("BEGIN IMMEDIATE")
        try {
          const result = await fn(session)
          db.run("COMMIT")
          return result
        } catch (error) {
          if (db.inTransaction) db.run("ROLLBACK")
          throw error
        }
      })
      turn = mine.catch(() => undefined)
      return mine
    },
    async close() {
      db.close()
    },
  }
}

type BunSql = InstanceType<typeof Bun.SQL>
type BunSqlSession = Pick<BunSql, "unsafe">

const serverSession = (dialect: Dialect, sql: BunSqlSession): DbSession => {
  // PostgreSQL numbers its placeholders; our statements never hold a literal `?`.
  const text = (statement: string) => (dialect === "postgresql" ? numberPlaceholders(statement) : statement)
  return {
    all: async (statement, params = []) => [...((await sql.unsafe(text(statement), params as unknown[])) as Row[])],
    run: async (statement, params = []) => void (await sql.unsafe(text(statement), params as unknown[])),
  }
}

const numberPlaceholders = (statement: string): string => {
  let n = 0
  return statement.replace(/\?/g, () => `$${++n}`)
}

/** TLS as libpq's `sslmode` and MySQL's `ssl-mode` ask for it; "prefer" (libpq's default) stays plain here. */
const tlsOf = (target: ServerTarget): boolean | { rejectUnauthorized: boolean } => {
  const mode = (target.query.sslmode ?? target.query["ssl-mode"] ?? target.query.ssl_mode ?? "").toLowerCase()
  if (mode === "require" || mode === "required") return { rejectUnauthorized: false }
  if (mode === "verify-ca" || mode === "verify-full" || mode === "verify_ca" || mode === "verify_identity") return { rejectUnauthorized: true }
  if (target.query.ssl === "true" || target.query.ssl === "1") return { rejectUnauthorized: true }
  return false
}

const openServer = async (target: ServerTarget): Promise<DbClient> => {
  const connectSeconds = Number(target.query.connect_timeout ?? 10)
  const sql = new Bun.SQL({
    adapter: target.dialect === "postgresql" ? "postgres" : "mysql",
    hostname: target.host,
    port: target.port,
    username: target.user,
    password: target.password,
    database: target.database,
    tls: tlsOf(target),
    // One process makes one call at a time: a second connection would only add a handshake.
    max: 1,
    connectionTimeout: Number.isFinite(connectSeconds) && connectSeconds > 0 ? connectSeconds : 10,
    idleTimeout: 30,
  })
  const dialect = target.dialect
  return {
    dialect,
    ...serverSession(dialect, sql),
    transaction: (fn) => sql.begin((tx) => fn(serverSession(dialect, tx))) as never,
    async close() {
      await sql.close({ timeout: 1 })
    },
  }
}

/** A client for the target; nothing is connected until the first statement (servers) or the file is opened (sqlite). */
export const openDb = (target: DbTarget, options: { readonly?: boolean } = {}): Promise<DbClient> =>
  target.dialect === "sqlite" ? openSqlite(target, options.readonly ?? false) : openServer(target)
