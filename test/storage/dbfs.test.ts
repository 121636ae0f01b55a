// dbfs:/ against a loopback DBFS API server: the requests sent (paths, chunked reads, auth) and the bytes received.
import { describe, expect, test } from "bun:test"
import { readFileSync, readdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { dbfsPath } from "../../src/storage/dbfs.ts"
import { downloadPathParameter, downloadUri, upload } from "../../src/storage/index.ts"
import { pseudoRandom, sha256 } from "../lib/bytes.ts"
import { caught } from "../lib/caught.ts"
import { dbfsServer } from "../lib/dbfs-server.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const MiB = 1024 * 1024

describe("dbfs", () => {
  test.each([
    ["dbfs:/data/x.csv", null, "/data/x.csv"],
    ["dbfs:///data/x.csv", null, "/data/x.csv"],
    ["dbfs://prod@databricks/data/x.csv", "prod", "/data/x.csv"],
  ])("%s names profile %p and path %s", (uri, profile, path) => {
    expect(dbfsPath(uri)).toEqual({ profile, path })
  })

  test("reads a file in 1 MiB chunks with the token from DATABRICKS_TOKEN", async () => {
    await using tmp = tmpdirFor()
    await using server = dbfsServer()
    const bytes = pseudoRandom(2 * MiB + 100, 51)
    server.put("/data/train.csv", bytes)
    const env = { DATABRICKS_HOST: server.url, DATABRICKS_TOKEN: server.token, MLPROJECT_HOME: join(tmp.path, "home") }
    const local = await downloadPathParameter("dbfs:/data/train.csv", { env, storageDir: tmp.path, index: 0 })
    expect(local).toBe(join(tmp.path, "param_0", "train.csv"))
    expect(sha256(readFileSync(local))).toBe(sha256(bytes))
    const reads = server.requests.filter((r) => r.path === "/api/2.0/dbfs/read")
    expect(reads.map((r) => [r.query.get("path"), r.query.get("offset"), r.query.get("length")])).toEqual([
      ["/data/train.csv", "0", String(MiB)],
      ["/data/train.csv", String(MiB), String(MiB)],
      ["/data/train.csv", String(2 * MiB), "100"],
    ])
    expect(server.requests[0]).toMatchObject({ method: "GET", path: "/api/2.0/dbfs/get-status" })
    expect(server.requests[0]?.query.get("path")).toBe("/data/train.csv")
    expect(server.requests.every((r) => r.headers.get("authorization") === `Bearer ${server.token}`)).toBe(true)
  })

  test("a folder downloads recursively; host and token come from a ~/.databrickscfg profile", async () => {
    await using tmp = tmpdirFor()
    await using server = dbfsServer()
    server.put("/runs/a.txt", pseudoRandom(10, 1))
    server.put("/runs/deep/b.txt", pseudoRandom(20, 2))
    const config = join(tmp.path, ".databrickscfg")
    writeFileSync(config, `[DEFAULT]\nhost = http://127.0.0.1:1\ntoken = wrong\n\n[lab]\nhost = ${server.url}/\ntoken = ${server.token}\n`)
    const env = { HOME: tmp.path, DATABRICKS_CONFIG_PROFILE: "lab", MLPROJECT_HOME: join(tmp.path, "home") }
    const local = await downloadPathParameter("dbfs:/runs", { env, storageDir: tmp.path, index: 3 })
    expect(local).toBe(join(tmp.path, "param_3", "runs"))
    expect(readdirSync(local, { recursive: true }).map(String).sort()).toEqual(["a.txt", "deep", join("deep", "b.txt")])
    expect(readFileSync(join(local, "deep", "b.txt"))).toEqual(Buffer.from(pseudoRandom(20, 2)))
    expect(server.requests.filter((r) => r.path === "/api/2.0/dbfs/list").map((r) => r.query.get("path"))).toEqual(["/runs", "/runs/deep"])
  })

  test("a profile named in the URI wins over the environment", async () => {
    await using tmp = tmpdirFor()
    await using server = dbfsServer()
    server.put("/x.bin", pseudoRandom(5, 3))
    writeFileSync(join(tmp.path, "cfg"), `[prod]\nhost = ${server.url}\ntoken = ${server.token}\n`)
    const env = { DATABRICKS_CONFIG_FILE: join(tmp.path, "cfg"), DATABRICKS_HOST: "http://127.0.0.1:1", DATABRICKS_TOKEN: "x", MLPROJECT_HOME: tmp.path }
    const result = await downloadUri("dbfs://prod@databricks/x.bin", join(tmp.path, "x.bin"), { env })
    expect(result.bytes).toBe(5)
  })

  test("uploads as one multipart put, overwriting a file of the same size", async () => {
    await using tmp = tmpdirFor()
    await using server = dbfsServer()
    server.put("/mlflow/code.tar.gz", new Uint8Array(MiB + 3))
    const bytes = pseudoRandom(MiB + 3, 4)
    writeFileSync(join(tmp.path, "code.tar.gz"), bytes)
    await upload(join(tmp.path, "code.tar.gz"), "dbfs:/mlflow/code.tar.gz", { env: { DATABRICKS_HOST: server.url, DATABRICKS_TOKEN: server.token } })
    expect(server.requests.map((r) => r.path.replace("/api/2.0/dbfs/", ""))).toEqual(["put"])
    expect(server.requests[0]?.headers.get("content-type")).toStartWith("multipart/form-data")
    expect(server.files.get("/mlflow/code.tar.gz")).toEqual(bytes)
  })

  test("a workspace without put gets create, add-block and close", async () => {
    await using tmp = tmpdirFor()
    await using server = dbfsServer({ noPut: true })
    const bytes = pseudoRandom(MiB + 3, 4)
    writeFileSync(join(tmp.path, "code.tar.gz"), bytes)
    await upload(join(tmp.path, "code.tar.gz"), "dbfs:/mlflow/code.tar.gz", { env: { DATABRICKS_HOST: server.url, DATABRICKS_TOKEN: server.token } })
    expect(server.requests.map((r) => r.path.replace("/api/2.0/dbfs/", ""))).toEqual(["put", "create", "add-block", "add-block", "close"])
    expect(JSON.parse(server.requests[1]?.text ?? "{}")).toEqual({ path: "/mlflow/code.tar.gz", overwrite: true })
    expect(server.files.get("/mlflow/code.tar.gz")).toEqual(bytes)
  })

  test("an upload with a wrong token fails without the token in its message", async () => {
    await using tmp = tmpdirFor()
    await using server = dbfsServer()
    writeFileSync(join(tmp.path, "a.bin"), "x")
    const error = await caught(upload(join(tmp.path, "a.bin"), "dbfs:/a.bin", { env: { DATABRICKS_HOST: server.url, DATABRICKS_TOKEN: "dapi-wrong-secret" } }))
    expect(error).toMatchObject({ code: "databricks.auth" })
    expect(`${error.message} ${error.hint}`).not.toContain("dapi-wrong-secret")
    expect(server.files.has("/a.bin")).toBe(false)
  })

  test("missing credentials, a wrong token and a missing file are explained", async () => {
    await using tmp = tmpdirFor()
    await using server = dbfsServer()
    const none = await caught(downloadUri("dbfs:/x", join(tmp.path, "x"), { env: { HOME: tmp.path } }))
    expect(none).toMatchObject({ code: "storage.credentials", exitCode: 2 })
    expect(none.hint).toContain("DATABRICKS_HOST and DATABRICKS_TOKEN")
    expect(none.hint).toContain(join(tmp.path, ".databrickscfg"))
    const wrong = await caught(downloadUri("dbfs:/x", join(tmp.path, "x"), { env: { DATABRICKS_HOST: server.url, DATABRICKS_TOKEN: "nope" } }))
    expect(wrong).toMatchObject({ code: "storage.denied", exitCode: 2 })
    expect(wrong.message).not.toContain("nope")
    const missing = await caught(downloadUri("dbfs:/no/such.csv", join(tmp.path, "x"), { env: { DATABRICKS_HOST: server.url, DATABRICKS_TOKEN: server.token } }))
    expect(missing).toMatchObject({ code: "storage.not_found", exitCode: 2 })
    expect(missing.message).toContain("dbfs:/no/such.csv")
  })
})
