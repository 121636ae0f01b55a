// The loopback Databricks workspace behaves like the documented service: auth, DBFS, Files API, runs that really execute.
import { describe, expect, test } from "bun:test"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { startWorkspace, type Workspace } from "../lib/databricks-workspace.ts"
import { mlflowServer } from "../lib/mlflow-server.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const call = async (ws: Workspace, method: string, path: string, body?: unknown, token = ws.token) => {
  const response = await fetch(`${ws.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await response.text()
  return { status: response.status, json: (text ? JSON.parse(text) : {}) as Record<string, unknown>, headers: response.headers }
}

const b64 = (bytes: Uint8Array | string) => Buffer.from(bytes).toString("base64")

const poll = async (ws: Workspace, runId: number, until: (state: Record<string, unknown>) => boolean) => {
  for (let i = 0; i < 200; i++) {
    const got = await call(ws, "GET", `/api/2.1/jobs/runs/get?run_id=${runId}`)
    if (until(got.json.state as Record<string, unknown>)) return got.json
    await Bun.sleep(50)
  }
  throw new Error(`run ${runId} never reached the state`)
}

const submit = (ws: Workspace, pythonFile: string, extra: Record<string, unknown> = {}) =>
  call(ws, "POST", "/api/2.1/jobs/runs/submit", {
    run_name: "test",
    tasks: [
      {
        task_key: "main",
        new_cluster: { spark_version: "15.4.x-scala2.12", node_type_id: "i3.xlarge", num_workers: 0, spark_env_vars: { MY_VAR: "from-cluster" } },
        spark_python_task: { python_file: pythonFile, parameters: ["--alpha", "0.5"] },
      },
    ],
    ...extra,
  })

describe("auth", () => {
  test("no credential is 401, an unknown token 403 with a numeric code, OAuth tokens expire", async () => {
    await using ws = await startWorkspace({ clusters: { c1: {} }, oauthClients: { app: "s3cret" }, oauthTokenSeconds: 1 })
    const bare = await fetch(`${ws.url}/api/2.0/clusters/get?cluster_id=c1`)
    expect(bare.status).toBe(401)
    expect(((await bare.json()) as { error_code: string }).error_code).toBe("UNAUTHENTICATED")
    expect(await call(ws, "GET", "/api/2.0/clusters/get?cluster_id=c1", undefined, "dapi-wrong")).toMatchObject({ status: 403, json: { error_code: 403, message: "Invalid access token." } })
    expect((await call(ws, "GET", "/api/2.0/clusters/get?cluster_id=c1")).json).toMatchObject({ cluster_id: "c1", state: "RUNNING" })

    const form = (secret: string) =>
      fetch(`${ws.url}/oidc/v1/token`, {
        method: "POST",
        headers: { authorization: `Basic ${b64(`app:${secret}`)}`, "content-type": "application/x-www-form-urlencoded" },
        body: "grant_type=client_credentials&scope=all-apis",
      })
    const refused = await form("wrong")
    expect(refused.status).toBe(401)
    expect(await refused.json()).toMatchObject({ error: "invalid_client" })
    const issued = (await (await form("s3cret")).json()) as { access_token: string; token_type: string; expires_in: number; scope: string }
    expect(issued).toMatchObject({ token_type: "Bearer", expires_in: 1, scope: "all-apis" })
    expect((await call(ws, "GET", "/api/2.0/clusters/get?cluster_id=c1", undefined, issued.access_token)).status).toBe(200)
    await Bun.sleep(1100)
    expect((await call(ws, "GET", "/api/2.0/clusters/get?cluster_id=c1", undefined, issued.access_token)).status).toBe(403)
    expect(ws.calls("oidc/v1/token")).toHaveLength(2)
  })
})

describe("DBFS API", () => {
  test("create, add-block, close, read; blocks over 1 MB refused; the file appears only at close", async () => {
    await using ws = await startWorkspace()
    const data = new Uint8Array(1024 * 1024 + 10).map((_, i) => i % 251)
    const { json: created } = await call(ws, "POST", "/api/2.0/dbfs/create", { path: "/up/load.bin", overwrite: false })
    const handle = created.handle
    expect(typeof handle).toBe("number")
    const tooBig = await call(ws, "POST", "/api/2.0/dbfs/add-block", { handle, data: b64(data) })
    expect(tooBig).toMatchObject({ status: 400, json: { error_code: "MAX_BLOCK_SIZE_EXCEEDED" } })
    expect((await call(ws, "POST", "/api/2.0/dbfs/add-block", { handle, data: b64(data.subarray(0, 1024 * 1024)) })).status).toBe(200)
    expect((await call(ws, "POST", "/api/2.0/dbfs/add-block", { handle, data: b64(data.subarray(1024 * 1024)) })).status).toBe(200)
    expect((await call(ws, "GET", "/api/2.0/dbfs/get-status?path=/up/load.bin")).json.error_code).toBe("RESOURCE_DOES_NOT_EXIST")
    expect((await call(ws, "POST", "/api/2.0/dbfs/close", { handle })).status).toBe(200)
    expect(new Uint8Array(readFileSync(join(ws.dbfsDir, "up/load.bin")))).toEqual(data)
    expect((await call(ws, "GET", "/api/2.0/dbfs/get-status?path=dbfs:/up/load.bin")).json).toMatchObject({ is_dir: false, file_size: data.length })
    const read = await call(ws, "GET", `/api/2.0/dbfs/read?path=/up/load.bin&offset=${1024 * 1024}&length=100`)
    expect(read.json).toMatchObject({ bytes_read: 10, data: b64(data.subarray(1024 * 1024)) })
    expect((await call(ws, "GET", `/api/2.0/dbfs/read?path=/up/load.bin&length=${1024 * 1024 + 1}`)).json.error_code).toBe("MAX_READ_SIZE_EXCEEDED")
    expect((await call(ws, "POST", "/api/2.0/dbfs/create", { path: "/up/load.bin" })).json.error_code).toBe("RESOURCE_ALREADY_EXISTS")
    expect((await call(ws, "POST", "/api/2.0/dbfs/add-block", { handle, data: "" })).status).toBe(404)
    expect(ws.calls("dbfs/add-block")).toHaveLength(4)
  })

  test("a workspace with the DBFS root disabled refuses it but serves volumes", async () => {
    await using ws = await startWorkspace({ dbfsRootDisabled: true, volumes: ["main/default/v"] })
    expect(await call(ws, "POST", "/api/2.0/dbfs/create", { path: "/tmp/x" })).toMatchObject({ status: 403, json: { error_code: "PERMISSION_DENIED" } })
    expect((await call(ws, "POST", "/api/2.0/dbfs/mkdirs", { path: "/Volumes/main/default/v/d" })).status).toBe(200)
    expect(existsSync(join(ws.volumesDir, "main/default/v/d"))).toBe(true)
  })
})

describe("DBFS put", () => {
  test("a multipart form from curl -F, the same form in 7-byte pieces, base64 contents; overwrite=false refused", async () => {
    await using tmp = tmpdirFor()
    await using ws = await startWorkspace()
    const bytes = new Uint8Array(300_000).map((_, i) => (i * 31 + (i >> 8)) & 0xff)
    const file = join(tmp.path, "a.bin")
    writeFileSync(file, bytes)
    const curl = Bun.spawn(["curl", "-sS", "-f", "-F", "path=/up/curl.bin", "-F", "overwrite=true", "-F", `file=@${file}`, "-H", `Authorization: Bearer ${ws.token}`, `${ws.url}/api/2.0/dbfs/put`])
    expect(await curl.exited).toBe(0)
    expect(Buffer.compare(readFileSync(join(ws.dbfsDir, "up/curl.bin")), bytes)).toBe(0)
    expect(ws.calls("dbfs/put").at(-1)?.json).toEqual({ path: "/up/curl.bin", overwrite: "true", file_size: bytes.length, filename: "a.bin" })

    // The same form in tiny pieces: every delimiter and header end straddles two of them.
    const boundary = "xyzBOUNDARYxyz"
    const small = bytes.subarray(0, 20_000)
    const whole = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="path"\r\n\r\n/up/pieces.bin\r\n`),
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`),
      small,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ])
    let offset = 0
    const pieces = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (offset >= whole.length) return controller.close()
        controller.enqueue(new Uint8Array(whole.subarray(offset, (offset += 7))))
      },
    })
    const headers = { authorization: `Bearer ${ws.token}`, "content-type": `multipart/form-data; boundary=${boundary}` }
    expect((await fetch(`${ws.url}/api/2.0/dbfs/put`, { method: "POST", headers, body: pieces })).status).toBe(200)
    expect(Buffer.compare(readFileSync(join(ws.dbfsDir, "up/pieces.bin")), small)).toBe(0)

    expect((await call(ws, "POST", "/api/2.0/dbfs/put", { path: "/up/small.txt", contents: b64("hi") })).status).toBe(200)
    expect(readFileSync(join(ws.dbfsDir, "up/small.txt"), "utf8")).toBe("hi")
    expect(await call(ws, "POST", "/api/2.0/dbfs/put", { path: "/up/small.txt", contents: b64("again"), overwrite: false })).toMatchObject({ status: 400, json: { error_code: "RESOURCE_ALREADY_EXISTS" } })
    expect(await call(ws, "POST", "/api/2.0/dbfs/put", { path: "/up/big.bin", contents: b64(new Uint8Array(1024 * 1024 + 1)) })).toMatchObject({ json: { error_code: "MAX_BLOCK_SIZE_EXCEEDED" } })
  })
})

describe("Files API", () => {
  test("PUT, HEAD, GET, overwrite=false, unknown volume", async () => {
    await using ws = await startWorkspace({ volumes: ["main/default/v"] })
    const put = (path: string, body: string, query = "") =>
      fetch(`${ws.url}/api/2.0/fs/files${path}${query}`, { method: "PUT", headers: { authorization: `Bearer ${ws.token}` }, body })
    expect((await put("/Volumes/main/default/v/a/b/c.txt", "hello")).status).toBe(204)
    const head = await fetch(`${ws.url}/api/2.0/fs/files/Volumes/main/default/v/a/b/c.txt`, { method: "HEAD", headers: { authorization: `Bearer ${ws.token}` } })
    expect(head.status).toBe(200)
    expect(head.headers.get("content-length")).toBe("5")
    const refused = await put("/Volumes/main/default/v/a/b/c.txt", "again", "?overwrite=false")
    expect(refused.status).toBe(409)
    expect(((await refused.json()) as { error_code: string }).error_code).toBe("ALREADY_EXISTS")
    expect((await put("/Volumes/main/default/v/a/b/c.txt", "again", "?overwrite=true")).status).toBe(204)
    const got = await fetch(`${ws.url}/api/2.0/fs/files/Volumes/main/default/v/a/b/c.txt`, { headers: { authorization: `Bearer ${ws.token}` } })
    expect(await got.text()).toBe("again")
    const missingHead = await fetch(`${ws.url}/api/2.0/fs/files/Volumes/main/default/v/nope`, { method: "HEAD", headers: { authorization: `Bearer ${ws.token}` } })
    expect(missingHead.status).toBe(404)
    expect((await put("/Volumes/main/default/other/x", "x")).status).toBe(404)
    expect(ws.calls("fs/files").at(0)?.text).toBe("hello")
  })
})

describe("Jobs API", () => {
  test("a task that prints and exits 3 is FAILED; get-output has its logs on the task run only", async () => {
    await using ws = await startWorkspace({ clusterStartMs: 100 })
    mkdirSync(join(ws.dbfsDir, "code"), { recursive: true })
    writeFileSync(
      join(ws.dbfsDir, "code/main.py"),
      [
        "import os, sys",
        "print('args', sys.argv[1:], os.environ['MY_VAR'], os.environ['DATABRICKS_RUNTIME_VERSION'], flush=True)",
        "print('token' if 'DATABRICKS_TOKEN' in os.environ else 'no token', os.environ.get('MLFLOW_TRACKING_URI'), flush=True)",
        "print('fuse', os.environ['MLPROJECT_DBFS_FUSE'], flush=True)",
        "sys.stderr.write('Traceback...\\nValueError: bad alpha\\n')",
        "sys.exit(3)",
      ].join("\n"),
    )
    expect((await submit(ws, "dbfs:/code/main.py", { tasks: [] })).status).toBe(400)
    const { json } = await submit(ws, "dbfs:/code/main.py")
    const runId = Number(json.run_id)
    const run = await ws.settled(runId)
    expect(run.states).toEqual(["PENDING", "RUNNING", "TERMINATED"])
    expect(run.exitCode).toBe(3)
    const got = await call(ws, "GET", `/api/2.1/jobs/runs/get?run_id=${runId}`)
    expect(got.json).toMatchObject({ run_id: runId, state: { life_cycle_state: "TERMINATED", result_state: "FAILED", state_message: "Workload failed, see run output for details" } })
    expect(String(got.json.run_page_url)).toBe(`${ws.url}/?o=${ws.workspaceId}#job/${run.jobId}/run/${runId}`)
    const taskRunId = (got.json.tasks as Array<{ run_id: number }>)[0]?.run_id
    expect(taskRunId).not.toBe(runId)
    const output = await call(ws, "GET", `/api/2.1/jobs/runs/get-output?run_id=${taskRunId}`)
    expect(String(output.json.logs)).toContain("args ['--alpha', '0.5'] from-cluster 15.4")
    expect(String(output.json.logs)).toContain("no token None")
    expect(String(output.json.logs)).toContain(`fuse ${ws.dbfsDir}`)
    expect(output.json.error).toBe("ValueError: bad alpha")
    const parent = await call(ws, "GET", `/api/2.1/jobs/runs/get-output?run_id=${runId}`)
    expect(parent).toMatchObject({ status: 400, json: { error_code: "INVALID_PARAMETER_VALUE" } })
    expect(String(parent.json.message)).toContain("multiple tasks is not supported")
    expect((await call(ws, "GET", "/api/2.1/jobs/runs/get?run_id=1")).json.message).toBe("Run 1 does not exist.")
    const missingFile = await ws.settled(Number((await submit(ws, "dbfs:/code/absent.py")).json.run_id))
    expect(missingFile.state).toMatchObject({ life_cycle_state: "INTERNAL_ERROR", result_state: "FAILED" })
    expect(missingFile.state.state_message).toContain("dbfs:/code/absent.py")
  })

  test("submit validates clusters and honours idempotency tokens", async () => {
    await using ws = await startWorkspace({ clusters: { "0101-abc": { state: "TERMINATED" } } })
    const task = (extra: Record<string, unknown>) => ({ tasks: [{ task_key: "t", spark_python_task: { python_file: "dbfs:/x.py" }, ...extra }] })
    const unknown = await call(ws, "POST", "/api/2.1/jobs/runs/submit", task({ existing_cluster_id: "nope" }))
    expect(unknown).toMatchObject({ status: 400, json: { error_code: "INVALID_PARAMETER_VALUE", message: "Cluster nope does not exist" } })
    expect((await call(ws, "POST", "/api/2.1/jobs/runs/submit", task({ new_cluster: { spark_version: "15.4" } }))).status).toBe(400)
    const first = await call(ws, "POST", "/api/2.1/jobs/runs/submit", { ...task({ existing_cluster_id: "0101-abc" }), idempotency_token: "k1" })
    const again = await call(ws, "POST", "/api/2.1/jobs/runs/submit", { ...task({ existing_cluster_id: "0101-abc" }), idempotency_token: "k1" })
    expect(again.json.run_id).toBe(first.json.run_id)
    expect(ws.clusters.get("0101-abc")?.state).toBe("PENDING")
    await ws.settled(Number(first.json.run_id))
    expect(ws.clusters.get("0101-abc")?.state).toBe("RUNNING")
  })

  test("cancel of a sleeping task: TERMINATING, then CANCELED, and its process group is gone", async () => {
    await using ws = await startWorkspace({ clusterStartMs: 50 })
    writeFileSync(join(ws.dbfsDir, "sleep.py"), "import subprocess, time\nsubprocess.Popen(['sleep', '60'])\nprint('sleeping', flush=True)\ntime.sleep(60)\n")
    const runId = Number((await submit(ws, "dbfs:/sleep.py")).json.run_id)
    await poll(ws, runId, (state) => state.life_cycle_state === "RUNNING")
    const pid = ws.runs.get(runId)?.process?.pid ?? 0
    expect((await call(ws, "POST", "/api/2.1/jobs/runs/cancel", { run_id: runId })).json).toEqual({})
    const run = await ws.settled(runId)
    expect(run.states).toEqual(["PENDING", "RUNNING", "TERMINATING", "TERMINATED"])
    expect(run.state).toMatchObject({ result_state: "CANCELED", user_cancelled_or_timedout: true })
    // The killed grandchild is reaped by whoever inherits it, which takes a moment on a loaded machine: wait, bounded.
    const groupAlive = () => {
      try {
        return process.kill(-pid, 0), true
      } catch {
        return false
      }
    }
    for (let waited = 0; groupAlive() && waited < 5000; waited += 50) await Bun.sleep(50)
    expect(groupAlive()).toBe(false)
  })

  test("the driver's dbruntime context token works against the workspace while the run lives", async () => {
    await using dir = tmpdirFor()
    await using ws = await startWorkspace({ clusters: { c1: {} }, env: { EXTRA_VAR: "yes" } })
    const script = dir.write(
      "ctx.py",
      [
        "import json, os, urllib.request",
        "from dbruntime.databricks_repl_context import get_context",
        "ctx = get_context()",
        "req = urllib.request.Request(ctx.apiUrl + '/api/2.0/clusters/get?cluster_id=c1', headers={'Authorization': 'Bearer ' + ctx.apiToken})",
        "print(json.load(urllib.request.urlopen(req))['state'], os.environ['EXTRA_VAR'], os.getcwd() != os.environ['HOME'])",
        "open(os.environ['MLPROJECT_DBFS_FUSE'] + '/token', 'w').write(ctx.apiToken)",
      ].join("\n"),
    )
    mkdirSync(join(ws.dbfsDir, "c"), { recursive: true })
    writeFileSync(join(ws.dbfsDir, "c/ctx.py"), readFileSync(script))
    const runId = Number((await call(ws, "POST", "/api/2.1/jobs/runs/submit", { tasks: [{ task_key: "t", existing_cluster_id: "c1", spark_python_task: { python_file: "dbfs:/c/ctx.py" } }] })).json.run_id)
    const run = await ws.settled(runId)
    expect(run.state.result_state).toBe("SUCCESS")
    expect(run.logs).toContain("RUNNING yes True")
    const token = readFileSync(join(ws.dbfsDir, "token"), "utf8")
    expect((await call(ws, "GET", "/api/2.0/clusters/get?cluster_id=c1", undefined, token)).status).toBe(403)
  })
})

describe("the rest of the workspace", () => {
  test("a 200 MB streamed upload lands on disk without being held in memory; the record keeps 1 MB", async () => {
    // The workspace runs alone in a child process, so its peak RSS is its own and not that of this test process's heap.
    await using dir = tmpdirFor("mlproject-dbx-big-")
    const script = dir.write(
      "serve.ts",
      `const { startWorkspace } = await import(${JSON.stringify(join(import.meta.dir, "..", "lib", "databricks-workspace.ts"))})
const ws = await startWorkspace({ volumes: ["main/default/big"] })
process.stdin.on("data", () => console.log(JSON.stringify({ calls: ws.calls("fs/files").map((c) => c.body.length) })))
process.on("SIGTERM", async () => (await ws[Symbol.asyncDispose](), process.exit(0)))
console.log(JSON.stringify({ url: ws.url, token: ws.token, volumesDir: ws.volumesDir }))
`,
    )
    const big = join(dir.path, "big.bin")
    writeFileSync(big, new Uint8Array(200 * 1024 * 1024).fill(7))
    const server = Bun.spawn([process.execPath, script], { stdin: "pipe", stdout: "pipe", stderr: "inherit" })
    try {
      const reader = server.stdout.getReader()
      const nextLine = async () => JSON.parse(new TextDecoder().decode((await reader.read()).value).trim().split("\n")[0] as string)
      const ws = (await nextLine()) as { url: string; token: string; volumesDir: string }
      const memory = (field: string) => Number(readFileSync(`/proc/${server.pid}/status`, "utf8").match(new RegExp(`${field}:\\s+(\\d+)`))?.[1]) * 1024
      const before = memory("VmRSS")
      const curl = Bun.spawn(["curl", "-sS", "-f", "-T", big, "-H", `Authorization: Bearer ${ws.token}`, `${ws.url}/api/2.0/fs/files/Volumes/main/default/big/blob`], { stdout: "ignore", stderr: "pipe" })
      expect(await curl.exited).toBe(0)
      expect(memory("VmHWM") - before).toBeLessThan(120 * 1024 * 1024)
      expect(Bun.file(join(ws.volumesDir, "main/default/big/blob")).size).toBe(200 * 1024 * 1024)
      server.stdin.write("calls\n")
      expect(((await nextLine()) as { calls: number[] }).calls[0]).toBe(1024 * 1024)
    } finally {
      server.kill("SIGTERM")
      await server.exited
    }
  }, 60_000)

  test("faults, secrets, and a run that times out", async () => {
    await using ws = await startWorkspace({ clusters: { c1: {} }, secrets: { "s/k": "v4lue" } })
    ws.fault({ endpoint: "secrets/get", status: 429, retryAfter: "1" })
    const limited = await call(ws, "GET", "/api/2.0/secrets/get?scope=s&key=k")
    expect(limited).toMatchObject({ status: 429, json: { error_code: "REQUEST_LIMIT_EXCEEDED" } })
    expect(limited.headers.get("retry-after")).toBe("1")
    expect((await call(ws, "GET", "/api/2.0/secrets/get?scope=s&key=k")).json).toEqual({ key: "k", value: b64("v4lue") })
    expect((await call(ws, "GET", "/api/2.0/secrets/get?scope=s&key=other")).status).toBe(404)
    writeFileSync(join(ws.dbfsDir, "slow.py"), "import time\ntime.sleep(30)\n")
    const submitted = await call(ws, "POST", "/api/2.1/jobs/runs/submit", {
      timeout_seconds: 1,
      tasks: [{ task_key: "t", existing_cluster_id: "c1", spark_python_task: { python_file: "dbfs:/slow.py" } }],
    })
    const run = await ws.settled(Number(submitted.json.run_id))
    expect(run.state).toMatchObject({ life_cycle_state: "TERMINATED", result_state: "TIMEDOUT", user_cancelled_or_timedout: true })
  })

  test("MLflow calls go to the tracking server after the workspace has checked the token", async () => {
    await using tracking = mlflowServer()
    await using ws = await startWorkspace({ tracking: { url: tracking.url } })
    const bare = await fetch(`${ws.url}/api/2.0/mlflow/experiments/create`, { method: "POST", body: JSON.stringify({ name: "e" }) })
    expect(bare.status).toBe(401)
    const created = await call(ws, "POST", "/api/2.0/mlflow/experiments/create", { name: "e" })
    expect(created.status).toBe(200)
    expect(typeof created.json.experiment_id).toBe("string")
    expect(tracking.requests).toHaveLength(1)
    expect(tracking.requests[0]?.headers.get("authorization")).toBeNull()
  })
})
