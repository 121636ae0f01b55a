// `run -b databricks` end to end through the binary: upload, runs/submit, the task really run on the loopback workspace's
// "driver" by the launcher and our own binary, metrics landing in the run created here, cancel and Ctrl-C, auth, errors.
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { binary, cli, liveCli, requireBinary } from "../lib/cli.ts"
import { startWorkspace, type Workspace } from "../lib/databricks-workspace.ts"
import { mlflowServer, type MlflowServer } from "../lib/mlflow-server.ts"
import { expectFinished } from "../lib/run-events.ts"
import { tmpdirFor, type TmpDir } from "../lib/tmp.ts"

const events = (stdout: string) => stdout.split("\n").filter(Boolean).map((line) => JSON.parse(line) as Record<string, any>)

const train = `import json, os, sys, time, urllib.request
args = sys.argv[1:]
print("args:", json.dumps(args, separators=(",", ":")), flush=True)
uri = os.environ["MLFLOW_TRACKING_URI"].rstrip("/")
headers = {"Content-Type": "application/json"}
if uri == "databricks":
    uri = os.environ["DATABRICKS_HOST"].rstrip("/")
    headers["Authorization"] = "Bearer " + os.environ["DATABRICKS_TOKEN"]
elif os.environ.get("MLFLOW_TRACKING_TOKEN"):
    headers["Authorization"] = "Bearer " + os.environ["MLFLOW_TRACKING_TOKEN"]
body = json.dumps({"run_id": os.environ["MLFLOW_RUN_ID"], "key": "loss", "value": 0.5, "timestamp": int(time.time() * 1000), "step": 1}).encode()
urllib.request.urlopen(urllib.request.Request(uri + "/api/2.0/mlflow/runs/log-metric", data=body, headers=headers)).read()
for i in range(3):
    print("line", i, flush=True)
time.sleep(float(args[args.index("--sleep") + 1]))
code = int(float(args[args.index("--code") + 1]))
if code:
    print("training diverged", file=sys.stderr, flush=True)
sys.exit(code)
`

type Setup = { dir: TmpDir; workspace: Workspace; tracking: MlflowServer; env: Record<string, string>; project: string; newCluster: string }
let setup: Setup

const oauth = { id: "sp-client-id", secret: "sp-client-secret-value" }
const trackingToken = "tracking-token-from-secret"

beforeAll(async () => {
  requireBinary()
  const dir = tmpdirFor("mlproject-databricks-")
  const tracking = mlflowServer()
  // MLflow cannot be installed here: the fallback launcher's `mlflow` is a stand-in that hands `mlflow run …` to our binary,
  // whose `run` takes the same arguments. It proves what the launcher runs, not MLflow itself.
  const shims = join(dir.path, "shims")
  mkdirSync(shims)
  writeFileSync(join(shims, "mlflow"), `#!/bin/sh\necho "mlflow stand-in: $*" >&2\nexec ${JSON.stringify(binary)} "$@"\n`)
  chmodSync(join(shims, "mlflow"), 0o755)
  const workspace = await startWorkspace({
    clusters: { "0101-000000-existing": {} },
    volumes: ["main/ml/projects"],
    oauthClients: { [oauth.id]: oauth.secret },
    oauthTokenSeconds: 2,
    secrets: { "ml/tracking-token": trackingToken },
    tracking: { url: tracking.url },
    env: { PATH: `${shims}:${process.env.PATH}` },
  })
  const parameters = "{msg: string, code: {type: float, default: 0}, sleep: {type: float, default: 0}}"
  dir.write("project/MLproject", `name: dbx_train\nentry_points:\n  main:\n    parameters: ${parameters}\n    command: python3 train.py --msg {msg} --code {code} --sleep {sleep}\n`)
  dir.write("project/train.py", train)
  dir.write("project/mlruns/0/meta.yaml", "left: out\n")
  const newCluster = dir.write("cluster.json", JSON.stringify({ spark_version: "15.4.x-scala2.12", node_type_id: "i3.xlarge", num_workers: 1, libraries: [{ pypi: { package: "numpy" } }] }))
  const env = { MLFLOW_TRACKING_URI: tracking.url, DATABRICKS_HOST: workspace.url, DATABRICKS_TOKEN: workspace.token, HOME: join(dir.path, "home"), MLPROJECT_HOME: join(dir.path, "mlproject-home") }
  setup = { dir, workspace, tracking, env, project: join(dir.path, "project"), newCluster }
})

afterAll(async () => {
  if (!setup) return
  await setup.workspace[Symbol.asyncDispose]()
  await setup.tracking[Symbol.asyncDispose]()
  await setup.dir[Symbol.asyncDispose]()
})

const run = (args: string[], env: Record<string, string> = {}, config = setup.newCluster) =>
  cli(["run", setup.project, "-b", "databricks", "-c", config, "--json", ...args], { cwd: setup.dir.path, env: { ...setup.env, ...env } })

const submitted = (before: number) => setup.workspace.calls("jobs/runs/submit").slice(before)

describe("run -b databricks", () => {
  test("a new cluster: uploads, one spark_python_task, the entry point run by our binary on the driver, FINISHED with its metric and MLflow's tags", async () => {
    const before = setup.workspace.calls("jobs/runs/submit").length
    const msg = `a b 'q' "dq" $HOME \\back`
    // Two seconds of work: long enough for a poll to see the run RUNNING.
    const result = await run(["-P", `msg=${msg}`, "-P", "sleep=2"])
    const { all, runId } = expectFinished(result)
    const uploads = all.filter((e) => e.type === "databricks.upload")
    expect(uploads.map((e) => e.what)).toEqual(["project", "launcher", "mlproject linux-x64"])
    const states = all.filter((e) => e.type === "databricks.run.state").map((e) => `${e.life_cycle_state}${e.result_state ? ` ${e.result_state}` : ""}`)
    expect(states[0]).toBe("PENDING")
    expect(states).toContain("RUNNING")
    expect(states.at(-1)).toBe("TERMINATED SUCCESS")
    expect(all.filter((e) => e.type === "log").map((e) => e.line)).toContain(`args: ${JSON.stringify(["--msg", msg, "--code", "0", "--sleep", "2"])}`)
    // The submit: the public Jobs 2.1 API, one task, no shell_command_task, and the cluster spec without our keys.
    const [call] = submitted(before)
    expect(call?.path).toBe("/api/2.1/jobs/runs/submit")
    const task = (call?.json.tasks as any[])[0]
    expect(task.new_cluster).toEqual({ spark_version: "15.4.x-scala2.12", node_type_id: "i3.xlarge", num_workers: 1 })
    expect(task.libraries).toEqual([{ pypi: { package: "numpy" } }])
    expect(task.shell_command_task).toBeUndefined()
    expect(task.spark_python_task.python_file).toMatch(/^dbfs:\/mlflow-experiments\/\d+\/projects-code\/mlproject-launcher-[0-9a-f]{16}\.py$/)
    // The run created here is the one the entry point logged into.
    const recorded = setup.tracking.runs.get(runId)
    expect(recorded?.info.status).toBe("FINISHED")
    expect(recorded?.metrics.map((m) => m.key)).toEqual(["loss"])
    expect(recorded?.params.get("msg")).toBe(msg)
    const tags = Object.fromEntries(recorded?.tags ?? [])
    const databricksRun = setup.workspace.runs.get(Number(tags["mlflow.databricks.shellJobRunID"]))
    expect(databricksRun?.exitCode).toBe(0)
    expect(tags).toMatchObject({
      "mlflow.project.backend": "databricks",
      "mlproject.databricks.launcher": "binary",
      "mlflow.databricks.webappURL": setup.workspace.url,
      "mlflow.databricks.shellJobID": String(databricksRun?.jobId),
    })
    expect(tags["mlflow.databricks.runURL"]).toContain(`/run/${databricksRun?.runId}`)
    // The archive leaves mlruns out; the token travels in no body, parameter, event or tag.
    const archive = uploads[0]?.target as string
    expect(existsSync(join(setup.workspace.dbfsDir, archive.replace(/^dbfs:\//, "")))).toBe(true)
    expect(JSON.stringify(call?.json)).not.toContain(setup.workspace.token)
    expect(result.stdout).not.toContain(setup.workspace.token)
    expect(JSON.stringify([...(recorded?.tags ?? [])])).not.toContain(setup.workspace.token)
    expect(databricksRun?.logs).not.toContain("mlruns/0/meta.yaml")
  }, 60_000)

  test("an unchanged project uploads nothing the second time; a failing entry point is FAILED with the task's error", async () => {
    const sends = () => setup.workspace.calls("dbfs/add-block").length + setup.workspace.calls("dbfs/put").length
    const blocks = sends()
    expect(blocks).toBeGreaterThan(0)
    const result = await run(["-P", "msg=again", "-P", "code=3"])
    expect(result.code).toBe(1)
    const all = events(result.stdout)
    expect(all.filter((e) => e.type === "databricks.upload").every((e) => e.uploaded === false)).toBe(true)
    expect(sends()).toBe(blocks)
    const error = all.find((e) => e.type === "error")
    expect(error?.code).toBe("databricks.run.failed")
    expect(error?.message).toContain("FAILED")
    expect(all.find((e) => e.type === "run.finished")?.status).toBe("FAILED")
    expect(all.filter((e) => e.type === "log").map((e) => e.line)).toContain("training diverged")
    // The task runs in the workspace, not here: no pid (never 0, which kill would take as the caller's group).
    expect(all.find((e) => e.type === "run.started")).toMatchObject({ pid: null })
  }, 60_000)

  test("an unchanged project is not even packed again; a changed file packs and uploads a new archive", async () => {
    const projectUpload = (result: { stdout: string }) => events(result.stdout).find((e) => e.type === "databricks.upload" && e.what === "project")
    // A packing within two seconds of a change is not trusted later: let the files age past that, pack once, then look.
    const lastChange = Math.max(...["MLproject", "train.py"].map((name) => statSync(join(setup.project, name)).ctimeMs))
    await Bun.sleep(Math.max(0, lastChange + 2100 - Date.now()))
    expect(projectUpload(await run(["-P", "msg=primed"]))?.uploaded).toBe(false)
    const unchanged = projectUpload(await run(["-P", "msg=unchanged"]))
    expect(unchanged).toMatchObject({ packed: false, uploaded: false })
    const train = join(setup.project, "train.py")
    writeFileSync(train, `${readFileSync(train, "utf8")}# changed\n`)
    const changed = projectUpload(await run(["-P", "msg=changed"]))
    expect(changed).toMatchObject({ packed: true, uploaded: true })
    expect(changed?.target).not.toBe(unchanged?.target)
    // The uploaded archive is exactly what packing the changed folder gives.
    const { projectArchive } = await import("../../src/databricks/archive.ts")
    const expected = join(setup.dir.path, "expected.tar.gz")
    await projectArchive(setup.project, expected)
    expect(readFileSync(join(setup.workspace.dbfsDir, String(changed?.target).replace(/^dbfs:\//, "")))).toEqual(readFileSync(expected))
  }, 60_000)

  test("an existing cluster with a volume upload root: the Files API, existing_cluster_id, FINISHED", async () => {
    const config = JSON.stringify({ existing_cluster_id: "0101-000000-existing", upload_root: "/Volumes/main/ml/projects/code", run_name: "nightly" })
    const before = setup.workspace.calls("jobs/runs/submit").length
    const result = await run(["-P", "msg=vol"], {}, config)
    expect(result.code).toBe(0)
    const task = (submitted(before)[0]?.json.tasks as any[])[0]
    expect(task.existing_cluster_id).toBe("0101-000000-existing")
    expect(task.new_cluster).toBeUndefined()
    expect(submitted(before)[0]?.json.run_name).toBe("nightly")
    expect(task.spark_python_task.python_file).toMatch(/^\/Volumes\/main\/ml\/projects\/code\/mlproject-launcher-/)
    expect(setup.workspace.requests.some((r) => r.method === "PUT" && r.path.startsWith("/api/2.0/fs/files/Volumes/main/ml/projects/code/"))).toBe(true)
    expect(events(result.stdout).find((e) => e.type === "run.finished")?.status).toBe("FINISHED")
  }, 60_000)

  test("--detach, status, logs and cancel: runs/cancel sent, KILLED, the task's process gone", async () => {
    const started = await run(["--detach", "-P", "msg=long", "-P", "sleep=60"])
    expect(started.code).toBe(0)
    const runId = events(started.stdout).find((e) => e.type === "run.created")?.run_id as string
    let databricksRunId = 0
    for (let i = 0; i < 200 && !databricksRunId; i++) {
      databricksRunId = Number(setup.tracking.runs.get(runId)?.tags.get("mlflow.databricks.shellJobRunID") ?? 0)
      await Bun.sleep(100)
    }
    for (let i = 0; i < 200 && setup.workspace.runs.get(databricksRunId)?.state.life_cycle_state !== "RUNNING"; i++) await Bun.sleep(100)
    const status = await cli(["status", runId, "--json"], { cwd: setup.dir.path, env: setup.env })
    expect(events(status.stdout)[0]).toMatchObject({ status: "RUNNING", backend: "databricks" })
    const cancelled = await cli(["cancel", runId, "--json"], { cwd: setup.dir.path, env: setup.env })
    expect(cancelled.code).toBe(0)
    expect(events(cancelled.stdout)[0]?.status).toBe("KILLED")
    expect(setup.workspace.calls("jobs/runs/cancel").some((r) => r.json.run_id === databricksRunId)).toBe(true)
    const ended = await setup.workspace.settled(databricksRunId)
    expect(ended.state.result_state).toBe("CANCELED")
    // The task's process group (the launcher, our binary, the entry point) is gone.
    expect(() => process.kill(-(ended.process?.pid as number), 0)).toThrow()
    expect(setup.tracking.runs.get(runId)?.info.status).toBe("KILLED")
    const waited = await cli(["wait", runId, "--json"], { cwd: setup.dir.path, env: setup.env })
    expect(events(waited.stdout).at(-1)?.status).toBe("KILLED")
  }, 90_000)

  test("Ctrl-C of a foreground run cancels the Databricks run and records KILLED", async () => {
    const live = liveCli(["run", setup.project, "-b", "databricks", "-c", setup.newCluster, "--json", "-P", "msg=int", "-P", "sleep=60"], { cwd: setup.dir.path, env: setup.env })
    await live.until((e) => e.type === "databricks.run.state" && e.life_cycle_state === "RUNNING")
    const { code } = await live.interrupt("SIGINT")
    expect(code).toBe(130)
    const finished = live.events.find((e) => e.type === "run.finished")
    expect(finished?.status).toBe("KILLED")
    const databricksRunId = live.events.find((e) => e.type === "databricks.run.submitted")?.databricks_run_id
    expect(setup.workspace.calls("jobs/runs/cancel").some((r) => r.json.run_id === databricksRunId)).toBe(true)
    expect(setup.tracking.runs.get(finished?.run_id as string)?.info.status).toBe("KILLED")
  }, 90_000)

  test("the fallback launcher: `mlflow run` on the driver, MLflow added as a library, tagged mlflow", async () => {
    const before = setup.workspace.calls("jobs/runs/submit").length
    const config = JSON.stringify({ new_cluster: { spark_version: "15.4.x-scala2.12", node_type_id: "i3.xlarge", num_workers: 0 }, launcher: "mlflow" })
    const result = await run(["-P", "msg=fallback"], {}, config)
    expect(result.code).toBe(0)
    const task = (submitted(before)[0]?.json.tasks as any[])[0]
    expect(task.libraries).toEqual([{ pypi: { package: "mlflow" } }])
    expect(task.spark_python_task.parameters).not.toContain("--binary")
    const runId = events(result.stdout).find((e) => e.type === "run.finished")?.run_id as string
    expect(setup.tracking.runs.get(runId)?.tags.get("mlproject.databricks.launcher")).toBe("mlflow")
    expect(setup.workspace.runs.get(Number(setup.tracking.runs.get(runId)?.tags.get("mlflow.databricks.shellJobRunID")))?.logs).toContain("mlflow stand-in: run ")
  }, 60_000)
})

describe("tracking credentials, faults and the workspace's refusals", () => {
  test("an http tracking server that wants a token: the launcher reads it from the Databricks secret named in the config", async () => {
    await using secured = mlflowServer({ auth: `Bearer ${trackingToken}` })
    const env = { MLFLOW_TRACKING_URI: secured.url, MLFLOW_TRACKING_TOKEN: trackingToken }
    const config = JSON.stringify({ existing_cluster_id: "0101-000000-existing", "tracking-token-secret": "ml/tracking-token" })
    const result = await run(["-P", "msg=secret"], env, config)
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    const runId = events(result.stdout).find((e) => e.type === "run.finished")?.run_id as string
    expect(secured.runs.get(runId)?.metrics.map((m) => m.key)).toEqual(["loss"])
    expect(secured.runs.get(runId)?.info.status).toBe("FINISHED")
    // The token went nowhere but the secret store: not in the submitted parameters, not in any event.
    const submittedText = JSON.stringify(setup.workspace.calls("jobs/runs/submit").at(-1)?.json)
    expect(submittedText).toContain("ml/tracking-token")
    expect(submittedText).not.toContain(trackingToken)
    expect(result.stdout).not.toContain(trackingToken)
    // Without the secret, the token set here is named in a warning: it does not reach the cluster.
    const warned = await cli(["run", setup.project, "-b", "databricks", "-c", JSON.stringify({ existing_cluster_id: "0101-000000-existing" }), "--json", "--dry-run", "-P", "msg=x"], {
      cwd: setup.dir.path,
      env: { ...setup.env, ...env },
    })
    expect(events(warned.stdout).find((e) => e.type === "warning")?.code).toBe("databricks.tracking_credentials")
  }, 60_000)

  test("a throttled submit (429 with Retry-After) is sent again and the run goes on", async () => {
    const before = setup.workspace.calls("jobs/runs/submit").length
    setup.workspace.fault({ endpoint: "jobs/runs/submit", status: 429, retryAfter: "1", body: { error_code: "REQUEST_LIMIT_EXCEEDED", message: "Too many requests" } })
    const result = await run(["-P", "msg=throttled"], {}, JSON.stringify({ existing_cluster_id: "0101-000000-existing" }))
    expect(result.code).toBe(0)
    expect(setup.workspace.calls("jobs/runs/submit").length - before).toBe(2)
  }, 60_000)

  test("a cluster spec the service rejects: its message, FAILED", async () => {
    const result = await run(["-P", "msg=x"], {}, JSON.stringify({ new_cluster: { spark_version: "15.4.x-scala2.12", num_workers: 1 } }))
    expect(result.code).toBe(1)
    const error = events(result.stdout).find((e) => e.type === "error")
    expect(error?.code).toBe("databricks.invalid")
    expect(error?.message).toContain("node_type_id")
  }, 60_000)

  test("a workspace with the DBFS root disabled: exit 2 before any run, the hint names upload_root; a volume root works", async () => {
    await using closed = await startWorkspace({ dbfsRootDisabled: true, clusters: { c1: {} }, volumes: ["main/ml/code"] })
    const env = { DATABRICKS_HOST: closed.url, DATABRICKS_TOKEN: closed.token }
    const runs = setup.tracking.runs.size
    const refused = await run(["-P", "msg=x"], env, JSON.stringify({ existing_cluster_id: "c1" }))
    expect(refused.code).toBe(2)
    const error = events(refused.stdout).find((e) => e.type === "error")
    expect(error?.code).toBe("databricks.dbfs_disabled")
    expect(error?.hint).toContain("upload_root")
    expect(setup.tracking.runs.size).toBe(runs)
    const onVolume = await run(["-P", "msg=x"], env, JSON.stringify({ existing_cluster_id: "c1", upload_root: "/Volumes/main/ml/code/projects" }))
    expect(onVolume.code).toBe(0)
  }, 60_000)

  test("logs of a finished foreground run prints the task's output", async () => {
    const result = await run(["-P", "msg=logged"], {}, JSON.stringify({ existing_cluster_id: "0101-000000-existing" }))
    const runId = events(result.stdout).find((e) => e.type === "run.finished")?.run_id as string
    const logs = await cli(["logs", runId], { cwd: setup.dir.path, env: setup.env })
    expect(logs.code).toBe(0)
    expect(logs.stdout).toContain("line 2")
    expect(logs.stdout).toContain(`args: ${JSON.stringify(["--msg", "logged", "--code", "0", "--sleep", "0"])}`)
  }, 60_000)
})

describe("auth as the Databricks tools resolve it", () => {
  test("a profile named by databricks://PROFILE records into the workspace's own tracking server", async () => {
    const home = join(setup.dir.path, "profile-home")
    mkdirSync(home, { recursive: true })
    writeFileSync(join(home, ".databrickscfg"), `[DEFAULT]\nhost = https://wrong.invalid\ntoken = nope\n\n[team]\nhost = ${setup.workspace.url}\ntoken = ${setup.workspace.token}\n`)
    const result = await run(["-P", "msg=profile"], { HOME: home, MLFLOW_TRACKING_URI: "databricks://team", DATABRICKS_HOST: "", DATABRICKS_TOKEN: "" })
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    const runId = events(result.stdout).find((e) => e.type === "run.finished")?.run_id as string
    expect(setup.tracking.runs.get(runId)?.metrics.map((m) => m.key)).toEqual(["loss"])
    expect(setup.workspace.calls("mlflow/runs/create").length).toBeGreaterThan(0)
  }, 60_000)

  test("OAuth machine-to-machine: tokens from /oidc/v1/token, fetched again once they expire", async () => {
    const before = setup.workspace.calls("oidc/v1/token").length
    const result = await run(["-P", "msg=oauth", "-P", "sleep=5"], { DATABRICKS_TOKEN: "", DATABRICKS_CLIENT_ID: oauth.id, DATABRICKS_CLIENT_SECRET: oauth.secret })
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    // Tokens last 2 s here and the run polls for 5 s or more: at least one refresh.
    expect(setup.workspace.calls("oidc/v1/token").length - before).toBeGreaterThanOrEqual(2)
    expect(result.stdout).not.toContain(oauth.secret)
  }, 60_000)

  test("a refused token: exit 2, the host and the credential named, the token never shown, no run", async () => {
    const runs = setup.tracking.runs.size
    const result = await run(["-P", "msg=x"], { DATABRICKS_TOKEN: "dapi-not-a-valid-token" })
    expect(result.code).toBe(2)
    const error = events(result.stdout).find((e) => e.type === "error")
    expect(error?.code).toBe("databricks.auth")
    expect(error?.message).toContain(setup.workspace.url)
    expect(error?.message).toContain("DATABRICKS_TOKEN")
    expect(result.stdout + result.stderr).not.toContain("dapi-not-a-valid-token")
    expect(setup.tracking.runs.size).toBe(runs)
  }, 30_000)
})

describe("checks before any run exists (exit 2, nothing recorded)", () => {
  test.each([
    ["no config", null, {}, "databricks.config", "Backend spec must be provided when launching MLflow project runs on Databricks."],
    ["a local tracking store", undefined, { MLFLOW_TRACKING_URI: "./mlruns" }, "databricks.tracking", "When running on Databricks, the MLflow tracking URI must be of the form"],
    ["an unknown cluster", JSON.stringify({ existing_cluster_id: "0000-nope" }), {}, "databricks.cluster", "cluster 0000-nope does not exist"],
    ["both cluster kinds", JSON.stringify({ existing_cluster_id: "a", new_cluster: {} }), {}, "databricks.config", "both 'new_cluster' and 'existing_cluster_id'"],
    ["a bad upload root", JSON.stringify({ existing_cluster_id: "0101-000000-existing", upload_root: "s3://bucket" }), {}, "databricks.config", "upload_root"],
  ] as const)("%s", async (_name, config, env, code, message) => {
    const runs = setup.tracking.runs.size
    const args = config === null ? ["run", setup.project, "-b", "databricks", "--json", "-P", "msg=x"] : ["run", setup.project, "-b", "databricks", "-c", config ?? setup.newCluster, "--json", "-P", "msg=x"]
    const result = await cli(args, { cwd: setup.dir.path, env: { ...setup.env, ...env } })
    expect(result.code).toBe(2)
    const error = events(result.stdout).find((e) => e.type === "error")
    expect(error?.code).toBe(code)
    expect(error?.message).toContain(message)
    expect(setup.tracking.runs.size).toBe(runs)
  }, 30_000)

  test("a docker project is refused with MLflow's message", async () => {
    setup.dir.write("docker-project/MLproject", "name: d\ndocker_env:\n  image: busybox\nentry_points:\n  main:\n    command: echo hi\n")
    const result = await cli(["run", join(setup.dir.path, "docker-project"), "-b", "databricks", "-c", setup.newCluster, "--json"], { cwd: setup.dir.path, env: setup.env })
    expect(result.code).toBe(2)
    expect(events(result.stdout).find((e) => e.type === "error")?.message).toBe("Running docker-based projects on Databricks is not yet supported.")
  })
})
