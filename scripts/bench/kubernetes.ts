// Kubernetes benchmark: an unchanged, already pushed project, from `mlproject run -b kubernetes --detach` to the Job existing,
// against `kubectl create -f` of the same Job manifest by hand on the same loopback API server. Goal ≤ 2×; nothing pushed again.
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { median } from "./lib.ts"

const root = join(import.meta.dir, "..", "..")
const binary = join(root, "dist", "mlproject")
const rounds = Number(process.env.ROUNDS ?? 7)
const { startRegistry, testImage } = await import("../../test/lib/docker.ts")
const { kubeconfig: writeKubeconfig, startKubeServer } = await import("../../test/lib/kube-server.ts")
const { createPullSecret } = await import("../../test/lib/kube-pull-secret.ts")
const { mlflowServer } = await import("../../test/lib/mlflow-server.ts")
const { tmpdirFor } = await import("../../test/lib/tmp.ts")

await using dir = tmpdirFor("mlproject-bench-kube-")
const user = { username: "bench", password: "bench-pass" }
await using registry = await startRegistry(user)
await using kube = await startKubeServer({})
await using tracking = mlflowServer()
const image = await testImage()
dir.write("project/MLproject", `name: bench\ndocker_env:\n  image: ${image}\nentry_points:\n  main:\n    command: "true"\n`)
dir.write("job.yaml", "kind: Job\nmetadata: {namespace: default}\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      containers: [{name: x}]\n      restartPolicy: Never\n")
await createPullSecret(kube, "default", "regcred", registry.host, user)
const config = dir.write("config.json", JSON.stringify({ "kube-job-template-path": "job.yaml", "repository-uri": `${registry.host}/bench/p`, "image-pull-secrets": ["regcred"] }))
mkdirSync(join(dir.path, "docker"))
writeFileSync(join(dir.path, "docker", "config.json"), JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`${user.username}:${user.password}`).toString("base64") } } }))
const kubeconfig = writeKubeconfig(kube, { auth: "token", ca: "data" })
const env = { ...process.env, KUBECONFIG: kubeconfig, DOCKER_CONFIG: join(dir.path, "docker"), MLFLOW_TRACKING_URI: tracking.url, MLPROJECT_HOME: join(dir.path, "home") }

const jobCreates = () => kube.requests.filter((r) => r.method === "POST" && r.path.endsWith("/jobs") && !r.query.dryRun).length

/** Milliseconds from starting `mlproject run --detach` until the API server has received the Job's create. */
const mlprojectOnce = async (): Promise<{ ms: number; pushed: boolean }> => {
  const before = jobCreates()
  const started = performance.now()
  const child = Bun.spawn([binary, "run", join(dir.path, "project"), "-b", "kubernetes", "-c", config, "--detach", "--json"], { cwd: dir.path, env, stdout: "pipe", stderr: "pipe" })
  while (jobCreates() === before) {
    if (child.exitCode !== null && child.exitCode !== 0) throw new Error(`mlproject failed: ${await new Response(child.stderr).text()}`)
    await Bun.sleep(1)
  }
  const ms = performance.now() - started
  const stdout = await new Response(child.stdout).text()
  await child.exited
  const pushed = stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l)).find((e) => e.type === "image.push.done")?.pushed
  return { ms, pushed: pushed !== false }
}

/** The same Job manifest (the last one mlproject sent, renamed) created with kubectl (spawned async: the server is in this process). --validate=false: the loopback server serves no OpenAPI document to validate against (our run has the server check the Job with a dry run instead). */
const kubectlOnce = async (manifest: Record<string, any>, index: number): Promise<number> => {
  const job = structuredClone(manifest)
  job.metadata.name = `by-hand-${Date.now()}-${index}`
  const file = dir.write(`by-hand-${index}.json`, JSON.stringify(job))
  const started = performance.now()
  const child = Bun.spawn(["kubectl", "--kubeconfig", kubeconfig, "create", "--validate=false", "-f", file], { stdout: "ignore", stderr: "pipe" })
  const code = await child.exited
  const ms = performance.now() - started
  if (code !== 0) throw new Error(`kubectl create failed: ${await new Response(child.stderr).text()}`)
  return ms
}

// The first run builds and pushes; every measured run after it finds the image in the registry.
const first = await mlprojectOnce()
console.log(`first run (build + push): ${first.ms.toFixed(0)} ms, pushed: ${first.pushed}`)
const manifest = kube.requests.filter((r) => r.method === "POST" && r.path.endsWith("/jobs") && !r.query.dryRun).at(-1)?.body as Record<string, any>
const ours: number[] = []
const byHand: number[] = []
let pushedAgain = 0
for (let i = 0; i < rounds; i++) {
  const run = await mlprojectOnce()
  ours.push(run.ms)
  if (run.pushed) pushedAgain++
  byHand.push(await kubectlOnce(manifest, i))
}
const [a, b] = [median(ours), median(byHand)]
console.log(`kubernetes: ${rounds} rounds, medians`)
console.log(`  kubectl create -f (baseline)          ${b.toFixed(1).padStart(8)} ms`)
console.log(`  mlproject run --detach → Job exists   ${a.toFixed(1).padStart(8)} ms  (${(a / b).toFixed(2)}x baseline)  goal: ≤ 2x`)
console.log(`  runs that pushed again: ${pushedAgain} of ${rounds}  goal: 0`)
// Let the detached supervisors finish their trivial Jobs before the servers go.
await Bun.sleep(3000)
