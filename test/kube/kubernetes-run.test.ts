// `run -b kubernetes` end to end through the binary: the real daemon builds, the real registry (htpasswd) receives the push,
// the loopback API server runs the Job's pod from the registry, kubectl sees what we created.
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { cli, liveCli, requireBinary } from "../lib/cli.ts"
import { dockerSkipReason, requireDocker, skipDocker, startRegistry, testImage, type Registry } from "../lib/docker.ts"
import { kubeconfig as writeKubeconfig, startKubeServer, type KubeServer } from "../lib/kube-server.ts"
import { createPullSecret } from "../lib/kube-pull-secret.ts"
import { mlflowServer, type MlflowServer } from "../lib/mlflow-server.ts"
import { expectFinished } from "../lib/run-events.ts"
import { tmpdirFor, type TmpDir } from "../lib/tmp.ts"

const describeKube = skipDocker ? describe.skip : describe
if (skipDocker) console.warn(`note: kubernetes runs need Docker: ${dockerSkipReason}`)

const registryUser = { username: "pusher", password: "s3cret-registry-pass" }

type Setup = { dir: TmpDir; registry: Registry; kube: KubeServer; tracking: MlflowServer; env: Record<string, string>; config: string; repo: string }
let setup: Setup

const events = (stdout: string) => stdout.split("\n").filter(Boolean).map((line) => JSON.parse(line) as Record<string, any>)

const train = `import json, os, sys, time, urllib.request
print("args:", json.dumps(sys.argv[1:], separators=(",", ":")), flush=True)
uri = os.environ["MLFLOW_TRACKING_URI"].rstrip("/")
body = json.dumps({"run_id": os.environ["MLFLOW_RUN_ID"], "key": "loss", "value": 0.25, "timestamp": int(time.time() * 1000), "step": 1}).encode()
request = urllib.request.Request(uri + "/api/2.0/mlflow/runs/log-metric", data=body, headers={"Content-Type": "application/json"})
urllib.request.urlopen(request).read()
print("env:", os.environ.get("FROM_ENV"), flush=True)
for i in range(int(os.environ.get("LINES", "3"))):
    print("line", i, flush=True)
time.sleep(float(os.environ.get("SLEEP", "0")))
sys.exit(int(sys.argv[sys.argv.index("--code") + 1]))
`

beforeAll(async () => {
  if (skipDocker) return
  requireBinary()
  requireDocker()
  const dir = tmpdirFor("mlproject-kube-run-")
  const registry = await startRegistry(registryUser)
  const kube = await startKubeServer({ pullBackoffMs: { initial: 200, max: 1000 } })
  const tracking = mlflowServer()
  const image = await testImage()
  dir.write(
    "project/MLproject",
    [
      "name: Kube_Train",
      "docker_env:",
      `  image: ${image}`,
      "  environment: [[FROM_ENV, 'cost $5 $(HOME)'], [LINES, '3']]",
      "entry_points:",
      "  main:",
      "    parameters: {msg: string, code: {type: float, default: 0}, sleep: {type: float, default: 0}}",
      "    command: SLEEP={sleep} python3 train.py --msg {msg} --code {code}",
      "",
    ].join("\n"),
  )
  dir.write("project/train.py", train)
  dir.write("kube/job.yaml", "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: x\n  namespace: default\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      containers:\n        - name: x\n          image: x\n      restartPolicy: Never\n")
  const repo = `${registry.host}/team/kube-train`
  // The cluster pulls with the secret the config names; the registry wants the same user as the push.
  await createPullSecret(kube, "default", "regcred", registry.host, registryUser)
  const config = dir.write("kube/config.json", JSON.stringify({ "kube-job-template-path": "job.yaml", "repository-uri": repo, "image-pull-secrets": ["regcred"], "pending-timeout": 4 }))
  mkdirSync(join(dir.path, "docker"))
  writeFileSync(join(dir.path, "docker", "config.json"), JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`${registryUser.username}:${registryUser.password}`).toString("base64") } } }))
  const kubeconfig = writeKubeconfig(kube, { auth: "token", ca: "data" })
  const env = { KUBECONFIG: kubeconfig, DOCKER_CONFIG: join(dir.path, "docker"), MLFLOW_TRACKING_URI: tracking.url, MLPROJECT_HOME: join(dir.path, "home") }
  setup = { dir, registry, kube, tracking, env, config, repo }
})

afterAll(async () => {
  if (!setup) return
  await setup.kube[Symbol.asyncDispose]()
  await setup.registry[Symbol.asyncDispose]()
  await setup.tracking[Symbol.asyncDispose]()
  await setup.dir[Symbol.asyncDispose]()
})

const run = (args: string[], env: Record<string, string> = {}) => cli(["run", join(setup.dir.path, "project"), "-b", "kubernetes", "-c", setup.config, "--json", ...args], { cwd: setup.dir.path, env: { ...setup.env, ...env } })

// Never spawnSync: the API server lives in this process, and a blocked event loop would never answer kubectl.
const kubectl = async (args: string[]) => {
  const child = Bun.spawn(["kubectl", "--kubeconfig", setup.env.KUBECONFIG as string, ...args], { stdout: "pipe", stderr: "pipe" })
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited])
  return { code, stdout, stderr }
}

describeKube("run -b kubernetes", () => {
  test("a docker project runs to FINISHED on the cluster: exact parameters, env, metrics from inside, the log artifact, the registry digest", async () => {
    const msg = `a b 'q' "dq" $(HOME) $$ \\back`
    const result = await run(["-P", `msg=${msg}`])
    const { all, runId } = expectFinished(result)
    const logs = all.filter((e) => e.type === "log").map((e) => e.line)
    expect(logs).toContain(`args: ${JSON.stringify(["--msg", msg, "--code", "0"])}`)
    expect(logs).toContain("env: cost $5 $(HOME)")
    expect(logs).toContain("line 2")
    const statuses = all.filter((e) => e.type === "kube.job.status").map((e) => e.status)
    expect(statuses.at(-1)).toBe("FINISHED")
    expect(statuses).toContain("RUNNING")
    const created = all.find((e) => e.type === "kube.job.created")
    expect(created?.job).toMatch(/^kube-train-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-\d{6}$/)

    const server = setup.tracking.runs.get(runId)
    expect(server?.info.status).toBe("FINISHED")
    expect(server?.params.get("msg")).toBe(msg)
    expect(server?.metrics.map((m) => [m.key, m.value])).toEqual([["loss", 0.25]])
    expect(server?.tags.get("mlflow.project.backend")).toBe("kubernetes")
    expect(server?.tags.get("mlflow.project.env")).toBe("docker")
    // The digest the registry has for the pushed tag is what the run names and the Job ran.
    const pushed = all.find((e) => e.type === "image.push.done")
    const auth = `Basic ${Buffer.from(`${registryUser.username}:${registryUser.password}`).toString("base64")}`
    const tag = (all.find((e) => e.type === "image.build.done")?.image as string).split(":").at(-1)
    const head = await fetch(`http://${setup.registry.host}/v2/team/kube-train/manifests/${tag}`, {
      method: "HEAD",
      headers: { authorization: auth, accept: "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json" },
    })
    const digest = head.headers.get("docker-content-digest")
    expect(digest).toMatch(/^sha256:/)
    expect(pushed?.digest).toBe(digest)
    expect(server?.tags.get("mlflow.docker.image.id")).toBe(digest as string)
    expect(server?.tags.get("mlflow.docker.image.uri")).toBe(`${setup.repo}@${digest}`)
    const artifact = [...setup.tracking.artifacts].find(([path]) => path.endsWith(`${runId}/artifacts/kubernetes/${created?.job}.log`))
    expect(artifact?.[1]).toContain("line 2")

    // What was sent: the Job with our env, labels, pull secret, and every $ doubled for the kubelet.
    const post = setup.kube.requests.find((r) => r.method === "POST" && r.path.endsWith("/jobs") && !r.query.dryRun)
    const job = post?.body as Record<string, any>
    const container = job.spec.template.spec.containers[0]
    expect(container.image).toBe(`${setup.repo}@${digest}`)
    expect(container.name).toBe("kube-train")
    expect(container.env.map((e: { name: string }) => e.name)).toEqual(["MLFLOW_RUN_ID", "MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "FROM_ENV", "LINES"])
    expect(job.spec.template.spec.imagePullSecrets).toEqual([{ name: "regcred" }])
    expect(job.metadata.labels["mlflow.org/run-id"]).toBe(runId)
    expect(job.spec.template.metadata.labels["mlflow.org/run-id"]).toBe(runId)

    // kubectl sees the same Job and its log, and can delete it.
    const listed = (await kubectl(["get", "jobs"]))
    expect(listed.code).toBe(0)
    expect(listed.stdout).toContain(created?.job)
    const kubectlLogs = (await kubectl(["logs", `job/${created?.job}`]))
    expect(kubectlLogs.stdout).toContain("line 2")
    expect((await kubectl(["delete", "job", created?.job as string])).code).toBe(0)
    expect((await kubectl(["get", "job", created?.job as string])).code).not.toBe(0)

    // No secret anywhere we print or record.
    for (const text of [result.stdout, result.stderr, JSON.stringify([...(server?.tags ?? [])])]) {
      expect(text).not.toContain(setup.kube.token)
      expect(text).not.toContain(registryUser.password)
    }
  }, 120_000)

  test("an unchanged project is not pushed again; a failing entry point is FAILED with its exit code", async () => {
    const result = await run(["-P", "msg=again", "-P", "code=3"])
    expect(result.code).toBe(1)
    const all = events(result.stdout)
    expect(all.find((e) => e.type === "image.push.done")?.pushed).toBe(false)
    expect(all.find((e) => e.type === "run.finished")?.status).toBe("FAILED")
    // A pod has no process on this machine: no pid (0 would name the caller's own process group to kill).
    expect(all.find((e) => e.type === "run.started")).toMatchObject({ pid: null })
    const terminated = all.filter((e) => e.type === "kube.pod.status" && e.exit_code !== null)
    expect(terminated.at(-1)?.exit_code).toBe(3)
    expect(all.filter((e) => e.type === "kube.job.status").at(-1)).toMatchObject({ status: "FAILED", reason: "BackoffLimitExceeded" })
  }, 120_000)

  test("a pod that cannot pull its image fails the run with the reason, in bounded time", async () => {
    // Always: the node's daemon has the image (it built it), so only a pull can fail.
    setup.dir.write("kube/always.yaml", "kind: Job\nmetadata: {namespace: default}\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      containers: [{name: x, imagePullPolicy: Always}]\n")
    const config = setup.dir.write("kube/nosecret.json", JSON.stringify({ "kube-job-template-path": "always.yaml", "repository-uri": setup.repo, "pending-timeout": 3 }))
    const started = Date.now()
    const result = await cli(["run", join(setup.dir.path, "project"), "-b", "kubernetes", "-c", config, "--json", "-P", "msg=x"], { cwd: setup.dir.path, env: setup.env })
    expect(Date.now() - started).toBeLessThan(60_000)
    expect(result.code).toBe(1)
    const all = events(result.stdout)
    const error = all.find((e) => e.type === "error")
    expect(error?.code).toBe("kube.pod.stuck")
    expect(error?.message).toMatch(/ErrImagePull|ImagePullBackOff/)
    expect(all.some((e) => e.type === "kube.pod.status" && /ErrImagePull|ImagePullBackOff/.test(e.reason ?? ""))).toBe(true)
    expect(all.find((e) => e.type === "run.finished")?.status).toBe("FAILED")
  }, 120_000)

  test("an unschedulable pod fails the run with the scheduler's reason", async () => {
    setup.dir.write("kube/ssd.yaml", "kind: Job\nmetadata: {namespace: default}\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      nodeSelector: {disk: ssd}\n      containers: [{name: x}]\n")
    const config = setup.dir.write("kube/ssd.json", JSON.stringify({ "kube-job-template-path": "ssd.yaml", "repository-uri": setup.repo, "image-pull-secrets": "regcred", "pending-timeout": 2 }))
    const result = await cli(["run", join(setup.dir.path, "project"), "-b", "kubernetes", "-c", config, "--json", "-P", "msg=x"], { cwd: setup.dir.path, env: setup.env })
    expect(result.code).toBe(1)
    const error = events(result.stdout).find((e) => e.type === "error")
    expect(error?.code).toBe("kube.pod.stuck")
    expect(error?.message).toContain("Unschedulable")
    expect(error?.hint).toContain("nodeSelector")
  }, 120_000)

  test("--detach, status, logs and cancel: the Job and its pods are deleted (Background) and the run is KILLED", async () => {
    const detached = await run(["-P", "msg=long", "-P", "sleep=60", "--detach"])
    expect(detached.code).toBe(0)
    const runId = events(detached.stdout).find((e) => e.type === "run.detached")?.run_id as string
    const env = { ...setup.env }
    for (let i = 0; i < 200; i++) {
      const logs = await cli(["logs", runId], { cwd: setup.dir.path, env })
      if (logs.stdout.includes("line 2")) break
      await Bun.sleep(100)
    }
    const status = await cli(["status", runId, "--json"], { cwd: setup.dir.path, env })
    expect(events(status.stdout)[0]).toMatchObject({ status: "RUNNING", backend: "kubernetes" })
    const logs = await cli(["logs", runId], { cwd: setup.dir.path, env })
    expect(logs.stdout).toContain("line 2")
    const cancelled = await cli(["cancel", runId, "--json"], { cwd: setup.dir.path, env })
    expect(cancelled.code).toBe(0)
    expect(events(cancelled.stdout)[0]?.status).toBe("KILLED")
    const deletion = setup.kube.requests.find((r) => r.method === "DELETE" && r.path.includes("/jobs/"))
    expect((deletion?.body as Record<string, unknown>).propagationPolicy).toBe("Background")
    const jobName = deletion?.path.split("/").at(-1) as string
    for (let i = 0; i < 100 && (await kubectl(["get", "pods", "-l", `job-name=${jobName}`, "-o", "name"])).stdout.trim() !== ""; i++) await Bun.sleep(100)
    expect((await kubectl(["get", "pods", "-l", `job-name=${jobName}`, "-o", "name"])).stdout.trim()).toBe("")
    expect((await kubectl(["get", "job", jobName])).code).not.toBe(0)
    expect(setup.tracking.runs.get(runId)?.info.status).toBe("KILLED")
  }, 120_000)

  test("Ctrl-C of a foreground run deletes the Job and records KILLED", async () => {
    const live = liveCli(["run", join(setup.dir.path, "project"), "-b", "kubernetes", "-c", setup.config, "--json", "-P", "msg=int", "-P", "sleep=60"], { cwd: setup.dir.path, env: setup.env })
    await live.until((e) => e.type === "log" && e.line === "line 2")
    const { code } = await live.interrupt("SIGINT")
    expect(code).toBe(130)
    const finished = live.events.find((e) => e.type === "run.finished")
    expect(finished?.status).toBe("KILLED")
    expect(setup.tracking.runs.get(finished?.run_id as string)?.info.status).toBe("KILLED")
    const job = live.events.find((e) => e.type === "kube.job.created")?.job
    expect(setup.kube.requests.some((r) => r.method === "DELETE" && r.path.endsWith(`/jobs/${job}`))).toBe(true)
  }, 120_000)
})

describeKube("planning checks before any run exists", () => {
  test("a local tracking store, a project without docker_env and a template the server refuses are exit 2 with no run", async () => {
    const local = await run(["-P", "msg=x"], { MLFLOW_TRACKING_URI: join(setup.dir.path, "mlruns") })
    expect(local.code).toBe(2)
    expect(events(local.stdout).find((e) => e.type === "error")?.code).toBe("kube.tracking")
    setup.dir.write("plain/MLproject", "name: plain\nentry_points:\n  main:\n    command: echo hi\n")
    const plain = await cli(["run", join(setup.dir.path, "plain"), "-b", "kubernetes", "-c", setup.config, "--json"], { cwd: setup.dir.path, env: setup.env })
    expect(plain.code).toBe(2)
    expect(events(plain.stdout).find((e) => e.type === "error")?.code).toBe("kube.project")
    setup.dir.write("kube/bad.yaml", "kind: Job\nmetadata: {namespace: default}\nspec:\n  template:\n    spec:\n      restartPolicy: Always\n      containers: [{name: x}]\n")
    const config = setup.dir.write("kube/bad.json", JSON.stringify({ "kube-job-template-path": "bad.yaml", "repository-uri": setup.repo }))
    const runsBefore = setup.tracking.runs.size
    const bad = await cli(["run", join(setup.dir.path, "project"), "-b", "kubernetes", "-c", config, "--json", "-P", "msg=x"], { cwd: setup.dir.path, env: setup.env })
    expect(bad.code).toBe(2)
    expect(events(bad.stdout).find((e) => e.type === "error")?.code).toBe("kube.template")
    expect(setup.tracking.runs.size).toBe(runsBefore)
  }, 60_000)
})

describeKube("cluster access like kubectl (through a dry run, which has the API server check the Job)", () => {
  const dryRun = async (env: Record<string, string | undefined>) => {
    const before = setup.kube.requests.length
    const result = await cli(["run", join(setup.dir.path, "project"), "-b", "kubernetes", "-c", setup.config, "--json", "--dry-run", "-P", "msg=x"], { cwd: setup.dir.path, env: { ...setup.env, ...env } })
    const sent = setup.kube.requests.slice(before).filter((r) => r.path.endsWith("/jobs"))
    return { result, sent }
  }
  const tokenConfig = () => JSON.parse(readFileSync(setup.env.KUBECONFIG as string, "utf8")) as Record<string, any>

  test.each([["cert-files"], ["cert-data"]] as const)("a client certificate (%s) reaches the listener that checks it", async (auth) => {
    const file = writeKubeconfig(setup.kube, { auth, ca: "file" })
    const { result, sent } = await dryRun({ KUBECONFIG: file })
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    expect(sent.map((r) => [r.method, r.query.dryRun, r.listener, r.auth.kind])).toEqual([["POST", "All", "cert", "cert"]])
  }, 30_000)

  test("an exec credential plugin's token is sent, and never shown", async () => {
    const config = tokenConfig()
    const plugin = setup.dir.write("plugin.sh", `#!/bin/sh\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"${setup.kube.token}"}}'\n`)
    Bun.spawnSync(["chmod", "+x", plugin])
    config.users[0].user = { exec: { apiVersion: "client.authentication.k8s.io/v1", command: plugin, interactiveMode: "Never" } }
    const file = setup.dir.write("kubeconfig-exec", JSON.stringify(config))
    const { result, sent } = await dryRun({ KUBECONFIG: file })
    expect(result.code).toBe(0)
    expect(sent[0]?.auth.kind).toBe("token")
    expect(sent[0]?.headers.authorization).toBe(`Bearer ${setup.kube.token}`)
    expect(result.stdout + result.stderr).not.toContain(setup.kube.token)
  }, 30_000)

  test("in-cluster service-account files when there is no kubeconfig", async () => {
    const sa = join(setup.dir.path, "serviceaccount")
    mkdirSync(sa, { recursive: true })
    writeFileSync(join(sa, "token"), setup.kube.token)
    writeFileSync(join(sa, "ca.crt"), setup.kube.certs.ca)
    writeFileSync(join(sa, "namespace"), "default")
    const port = new URL(setup.kube.url).port
    const home = join(setup.dir.path, "empty-home")
    mkdirSync(home, { recursive: true })
    const { result, sent } = await dryRun({ KUBECONFIG: undefined, HOME: home, KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: port, MLPROJECT_KUBE_SERVICEACCOUNT_DIR: sa })
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    expect(sent[0]?.auth.kind).toBe("token")
  }, 30_000)

  test("a refused token is kube.auth naming the context, without the token", async () => {
    const file = writeKubeconfig(setup.kube, { auth: "token", token: "wrong-token-value", ca: "data", name: "wrong" })
    const { result } = await dryRun({ KUBECONFIG: file })
    expect(result.code).toBe(1)
    const error = events(result.stdout).find((e) => e.type === "error")
    expect(error?.code).toBe("kube.auth")
    expect(result.stdout + result.stderr).not.toContain("wrong-token-value")
  }, 30_000)
})

describeKube("following a Job through dropped watches", () => {
  test("every watch connection closes after one event: the run still ends FINISHED with its whole log, resumed by resourceVersion", async () => {
    await using kube = await startKubeServer({ watchDrop: { afterEvents: 1 } })
    await createPullSecret(kube, "default", "regcred", setup.registry.host, registryUser)
    const result = await run(["-P", "msg=drops"], { KUBECONFIG: writeKubeconfig(kube, { auth: "token", ca: "data" }) })
    expect(result.code).toBe(0)
    const all = events(result.stdout)
    expect(all.find((e) => e.type === "run.finished")?.status).toBe("FINISHED")
    expect(all.filter((e) => e.type === "log").map((e) => e.line)).toContain("line 2")
    const resumed = kube.requests.filter((r) => r.query.watch && r.query.resourceVersion)
    expect(resumed.length).toBeGreaterThan(1)
  }, 120_000)
})
