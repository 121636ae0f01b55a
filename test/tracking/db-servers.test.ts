// The throwaway PostgreSQL and MariaDB servers answer Bun.SQL over TCP with password auth, and pin the driver's quirks the database stores must handle.
import { afterAll, describe, expect, test } from "bun:test"
import { freePort } from "../lib/git.ts"
import { mariadbSkipReason, postgresSkipReason, startMariadb, startPostgres, type DbServer } from "../lib/databases.ts"

const [postgres, mariadb] = await Promise.all([startPostgres(), startMariadb()])
afterAll(() => Promise.all([postgres?.stop(), mariadb?.stop()]))

type Kind = {
  name: string
  server: DbServer | null
  skipReason: string
  errorClass: typeof Bun.SQL.PostgresError | typeof Bun.SQL.MySQLError
  double: string
  currentDatabase: string
  /** What the server says to a wrong password, as Bun.SQL's error carries it. */
  badPassword: { code: string; errno: string | number; message: string; sqlState?: string }
  refused: string
  databaseEnv: string
  /** What COUNT(*) returns for n rows. */
  count(n: number): unknown
  /** A row of (BIGINT 1, BIGINT 3000000000, BOOLEAN true, DOUBLE 0.1, COUNT(*) 2) as Bun.SQL returns it. */
  types: unknown[]
  /** The same BIGINTs with `bigint: true`. */
  bigints: unknown[]
}

const kinds: Kind[] = [
  {
    name: "PostgreSQL",
    server: postgres,
    skipReason: postgresSkipReason,
    errorClass: Bun.SQL.PostgresError,
    double: "DOUBLE PRECISION",
    currentDatabase: "current_database()",
    badPassword: { code: "ERR_POSTGRES_SERVER_ERROR", errno: "28P01", message: 'password authentication failed for user "mlflow"' },
    refused: "ERR_POSTGRES_CONNECTION_REFUSED",
    databaseEnv: "PGDATABASE",
    count: String,
    // Every int8 is a string, whatever its size; booleans are booleans.
    types: ["1", "3000000000", true, 0.1, "2"],
    bigints: [1n, 3000000000n],
  },
  {
    name: "MariaDB",
    server: mariadb,
    skipReason: mariadbSkipReason,
    errorClass: Bun.SQL.MySQLError,
    double: "DOUBLE",
    currentDatabase: "DATABASE()",
    badPassword: { code: "ERR_MYSQL_SERVER_ERROR", errno: 1045, sqlState: "28000", message: "Access denied for user 'mlflow'@'127.0.0.1' (using password: YES)" },
    refused: "ERR_MYSQL_CONNECTION_REFUSED",
    databaseEnv: "MYSQL_DATABASE",
    count: Number,
    // A BIGINT is a number inside the 32-bit range and a string (or a bigint) outside it; BOOLEAN is TINYINT(1).
    types: [1, "3000000000", 1, 0.1, 2],
    bigints: [1, 3000000000n],
  },
]

const failure = async (query: Promise<unknown>): Promise<Error & Record<string, unknown>> => {
  try {
    await query
  } catch (error) {
    return error as Error & Record<string, unknown>
  }
  throw new Error("the query succeeded")
}

for (const kind of kinds) {
  if (!kind.server) test.skip(kind.skipReason, () => {})
  describe.skipIf(!kind.server)(`Bun.SQL against a throwaway ${kind.name}${kind.server ? ` ${kind.server.version}` : ""}`, () => {
    const server = kind.server as DbServer
    const connect = (uri = server.uri, options: Bun.SQL.Options = {}) => new Bun.SQL({ url: uri, ...options })

    test("creates a table, and commits or rolls back transactions, logged in with a password over TCP", async () => {
      await using sql = new Bun.SQL(server.uri)
      expect(server.uri).toBe(`${server.kind === "postgres" ? "postgresql" : "mysql"}://mlflow:${server.password}@127.0.0.1:${server.port}/mlflow`)
      await sql.unsafe(`CREATE TABLE runs (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL, x ${kind.double})`)
      await sql.begin(async (tx) => {
        await tx`INSERT INTO runs (id, name, x) VALUES (${1}, ${"first"}, ${0.5})`
        await tx`INSERT INTO runs (id, name, x) VALUES (${2}, ${"second ✓"}, ${-1e300})`
        expect(await tx`SELECT COUNT(*) AS n FROM runs`).toEqual([{ n: kind.count(2) }])
      })
      const rolledBack = await failure(sql.begin(async (tx) => {
        await tx`INSERT INTO runs (id, name, x) VALUES (${3}, ${"third"}, ${0})`
        await tx`INSERT INTO runs (id, name, x) VALUES (${1}, ${"duplicate"}, ${0})`
      }))
      expect(rolledBack).toBeInstanceOf(kind.errorClass)
      expect(await sql`SELECT name, x FROM runs ORDER BY id`).toEqual([{ name: "first", x: 0.5 }, { name: "second ✓", x: -1e300 }])
    })

    test("returns BIGINT, BOOLEAN and DOUBLE values in the driver's own way", async () => {
      await using sql = connect()
      await sql.unsafe(`CREATE TABLE typed (small BIGINT, big BIGINT, flag BOOLEAN, x ${kind.double})`)
      await sql`INSERT INTO typed VALUES (${1}, ${3000000000}, ${true}, ${0.1}), (${2}, ${0}, ${false}, ${0})`
      const [row] = await sql`SELECT small, big, flag, x, (SELECT COUNT(*) FROM typed) AS n FROM typed WHERE small = 1`
      expect([row.small, row.big, row.flag, row.x, row.n]).toEqual(kind.types)
      await using exact = connect(server.uri, { bigint: true })
      const [wide] = await exact`SELECT small, big FROM typed WHERE small = 1`
      expect([wide.small, wide.big]).toEqual(kind.bigints)
    })

    test("a wrong password fails with the server's own error", async () => {
      await using sql = connect(server.uri.replace(`:${server.password}@`, ":wrong@"))
      const error = await failure(sql`SELECT 1`)
      expect(error).toBeInstanceOf(kind.errorClass)
      expect(error).toMatchObject(kind.badPassword)
    })

    test("a closed port fails at once", async () => {
      const started = performance.now()
      await using sql = connect(server.uri.replace(`:${server.port}/`, `:${freePort()}/`))
      const error = await failure(sql`SELECT 1`)
      expect(error).toBeInstanceOf(kind.errorClass)
      expect(error).toMatchObject({ code: kind.refused, message: "Failed to connect" })
      expect(performance.now() - started).toBeLessThan(2000)
    })

    test("newDatabase gives an empty database of its own, and the environment's database beats the URL's", async () => {
      const uri = await server.newDatabase("isolated")
      expect(uri).toBe(server.uri.replace(/\/mlflow$/, "/isolated"))
      await using sql = connect(uri)
      await sql.unsafe(`CREATE TABLE runs (id BIGINT PRIMARY KEY)`)
      expect(await sql`SELECT COUNT(*) AS n FROM runs`).toEqual([{ n: kind.count(0) }])
      // Bun.SQL prefers PGDATABASE / MYSQL_DATABASE to the database in the URL: a store must pass `database` itself.
      process.env[kind.databaseEnv] = "isolated"
      try {
        await using fromEnv = connect(server.uri)
        await using explicit = connect(server.uri, { database: "mlflow" })
        expect(await fromEnv.unsafe(`SELECT ${kind.currentDatabase} AS db`)).toEqual([{ db: "isolated" }])
        expect(await explicit.unsafe(`SELECT ${kind.currentDatabase} AS db`)).toEqual([{ db: "mlflow" }])
      } finally {
        delete process.env[kind.databaseEnv]
      }
    })
  })
}
