// Tracking URI resolution, file URIs both ways, URI path appending, and store selection by scheme.
import { describe, expect, test } from "bun:test"
import { isToolError } from "../../src/errors.ts"
import { storeFor } from "../../src/tracking/store-for.ts"
import { appendToUriPath, fileUriToPath, pathToFileUri, resolveTrackingUri } from "../../src/tracking/tracking-uri.ts"
import { tmpdirFor } from "../lib/tmp.ts"

describe("resolveTrackingUri", () => {
  test.each([
    // /work/proj/mlruns holds no experiment here: MLflow 3.7's default is the sqlite file (default-store.test.ts).
    [undefined, "sqlite:////work/proj/mlflow.db"],
    ["", "sqlite:////work/proj/mlflow.db"],
    ["runs", "file:///work/proj/runs"],
    ["./my runs", "file:///work/proj/my%20runs"],
    ["/abs/mlruns", "file:///abs/mlruns"],
    ["file:///abs/ml%20runs", "file:///abs/ml%20runs"],
    ["file:rel/mlruns", "file:///work/proj/rel/mlruns"],
    ["file://localhost/abs/mlruns", "file:///abs/mlruns"],
    ["http://127.0.0.1:5000", "http://127.0.0.1:5000"],
    ["https://user:secret@mlflow.example.com", "https://user:secret@mlflow.example.com"],
    ["databricks", "databricks"], // MLflow reads the bare word as the Databricks workspace
    ["databricks_runs", "file:///work/proj/databricks_runs"],
    ["databricks://profile", "databricks://profile"],
    ["sqlite:///mlflow.db", "sqlite:////work/proj/mlflow.db"],
    ["sqlite:////abs/mlflow.db", "sqlite:////abs/mlflow.db"],
  ])("MLFLOW_TRACKING_URI=%j → %s", (value, uri) => {
    expect(resolveTrackingUri({ MLFLOW_TRACKING_URI: value }, "/work/proj")).toBe(uri)
  })
})

test.each([
  ["/a b/ü~!$&()*+,;=:@'%#?[]{}^|\\\"<>", "file:///a%20b/%C3%BC~%21%24%26%28%29%2A%2B%2C%3B%3D%3A%40%27%25%23%3F%5B%5D%7B%7D%5E%7C%5C%22%3C%3E"],
  ["/home/u/mlruns", "file:///home/u/mlruns"],
  ["/a_b.c-d~e", "file:///a_b.c-d~e"],
  ["/runs\n", "file:///runs%0A"], // a trailing newline is no kept character (JS's `$` is the end of the text)
])("pathlib.Path(%j).as_uri() = %s", (path, uri) => {
  expect(pathToFileUri(path)).toBe(uri)
  expect(fileUriToPath(uri)).toBe(path)
})

test.each([
  ["file:///abs/mlruns/0", ["r1", "artifacts"], "file:///abs/mlruns/0/r1/artifacts"],
  ["file:///abs/mlruns/0/", ["r1", "artifacts"], "file:///abs/mlruns/0/r1/artifacts"],
  ["mlflow-artifacts:/0", ["r1", "artifacts"], "mlflow-artifacts:/0/r1/artifacts"],
  ["file:mlruns/0", ["r1", "artifacts"], "file:mlruns/0/r1/artifacts"],
  ["./mlruns/1", ["r1", "artifacts"], "./mlruns/1/r1/artifacts"],
  ["/Users/x/mlruns/0", ["r1", "artifacts"], "/Users/x/mlruns/0/r1/artifacts"],
  ["s3://bucket", ["r1", "artifacts"], "s3://bucket/r1/artifacts"],
  ["s3://bucket/path?region=eu", ["r1", "artifacts"], "s3://bucket/path/r1/artifacts?region=eu"],
])("append_to_uri_path(%j, %j)", (uri, segments, expected) => {
  expect(appendToUriPath(uri, ...segments)).toBe(expected)
})

describe("storeFor", () => {
  test("file URIs and plain paths get the file store", async () => {
    await using dir = tmpdirFor()
    expect(storeFor(pathToFileUri(`${dir.path}/a b`)).location).toBe(`${dir.path}/a b`)
    expect(storeFor(`${dir.path}/plain`).location).toBe(`${dir.path}/plain`)
  })

  const refusal = (uri: string) => {
    try {
      storeFor(uri)
    } catch (error) {
      if (isToolError(error)) return error
      throw error
    }
    throw new Error(`storeFor(${uri}) did not refuse`)
  }

  test("a file where the mlruns folder should be is refused with exit 2", () => {
    const error = refusal("/etc/passwd")
    expect(error.code).toBe("tracking.not_a_folder")
    expect(error.exitCode).toBe(2)
  })

  test("a file on the path where the mlruns folder should be is named, with exit 2 (it was ENOTDIR, an internal error)", () => {
    const error = refusal("/etc/passwd/mlruns/x")
    expect(error.code).toBe("tracking.not_a_folder")
    expect(error.message).toBe("Tracking store /etc/passwd/mlruns/x cannot be a folder: /etc/passwd is a file")
    expect(error.exitCode).toBe(2)
  })

  test.each(["sqlite:////tmp/mlflow.db", "postgresql+psycopg2://u:pw@h/db", "mysql+pymysql://u:pw@h/db", "mariadb://h/db"])("%s is a database store, opened on first use", (uri) => {
    expect(storeFor(uri).location).not.toContain(":pw@")
  })

  test("SQL Server is refused with a hint", () => {
    const error = refusal("mssql+pyodbc://u:pw@h/db")
    expect(error.code).toBe("tracking.unsupported")
    expect(error.exitCode).toBe(2)
    expect(error.message).not.toContain("u:pw")
  })

  test("unknown schemes are refused", () => {
    expect(refusal("gopher://x").message).toContain("'gopher'")
  })
})
