// The loopback API server the kubernetes tests trust, checked against kubectl itself and the kubelet's `$(VAR)` rules.
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { dockerSkipReason, requireDocker, skipDocker, testImage } from "../lib/docker.ts"
import { expand, mappingFor } from "../lib/kube-expand.ts"
import { kubeconfig, startKubeServer, type KubeServer } from "../lib/kube-server.ts"

describe("the kubelet's $(VAR) expansion", () => {
  const mapping = mappingFor({ A: "one", EMPTY: "" }, { B: "two" })
  test.each([
    ["$(A)", "one"],
    ["x$(A)y$(B)", "xoneytwo"],
    ["$$(A)", "$(A)"],
    ["$$", "$"],
    ["$$$$", "$$"],
    ["cost $5", "cost $5"],
    ["$(MISSING)", "$(MISSING)"],
    ["$(EMPTY)|", "|"],
    ["$(A", "$(A"],
    ["trailing $", "trailing $"],
  ])("%p → %p", (input, output) => {
    expect(expand(input, mapping)).toBe(output)
  })
})

const describeKube = skipDocker ? describe.skip : describe
if (skipDocker) console.warn(`note: the loopback API server runs pods with Docker: ${dockerSkipReason}`)

let server: KubeServer
let config: string

beforeAll(async () => {
  if (skipDocker) return
  requireDocker()
  server = await startKubeServer()
  config = kubeconfig(server, { auth: "token", ca: "data" })
})

afterAll(async () => {
  if (server) await server[Symbol.asyncDispose]()
})

// Never spawnSync: the server lives in this process and must keep answering while kubectl waits.
const kubectl = async (args: string[], file = config) => {
  const child = Bun.spawn(["kubectl", "--kubeconfig", file, "--request-timeout=20s", ...args], { stdout: "pipe", stderr: "pipe" })
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited])
  return { code, stdout, stderr }
}

const until = async <T>(what: string, probe: () => Promise<T | undefined>, ms = 30_000): Promise<T> => {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    const value = await probe()
    if (value !== undefined) return value
    await Bun.sleep(200)
  }
  throw new Error(`timed out waiting for ${what}`)
}

describeKube("the loopback API server, as kubectl sees it", () => {
  test("discovery and namespaces", async () => {
    const version = await kubectl(["version", "-o", "json"])
    expect(version.code).toBe(0)
    expect(JSON.parse(version.stdout).serverVersion.gitVersion).toMatch(/^v1\.\d+/)
    const namespaces = await kubectl(["get", "namespaces", "-o", "name"])
    expect(namespaces.stdout.split("\n")).toContain("namespace/default")
  })

  test("a rejected token is Unauthorized, as a real server says it", async () => {
    const wrong = kubeconfig(server, { auth: "token", token: "not-the-token", name: "kubeconfig-wrong.json" })
    const result = await kubectl(["get", "pods"], wrong)
    expect(result.code).not.toBe(0)
    expect(result.stderr).toMatch(/Unauthorized|must be logged in/)
  })

  test("a Job created with kubectl runs its pod by Docker, expands $(VAR) but not $$(VAR), and goes with a background delete", async () => {
    const image = await testImage("busybox")
    const job = {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name: "echo-job", namespace: "default" },
      spec: {
        backoffLimit: 0,
        template: {
          spec: {
            restartPolicy: "Never",
            containers: [{ name: "main", image, command: ["sh", "-c", "echo got $(GREETING) '$$(GREETING)' $0", "$(GREETING)"], env: [{ name: "GREETING", value: "hi" }] }],
          },
        },
      },
    }
    const file = join(server.certs.dir, "echo-job.json")
    writeFileSync(file, JSON.stringify(job))
    // The loopback server publishes no OpenAPI schema for kubectl's client-side validation.
    const created = await kubectl(["create", "-f", file, "--validate=false"])
    expect(created.stderr).toBe("")
    expect(created.stdout).toContain("job.batch/echo-job created")
    await until("the Job to succeed", async () => {
      const got = await kubectl(["get", "job", "echo-job", "-o", "json"])
      return JSON.parse(got.stdout).status?.succeeded === 1 ? true : undefined
    })
    const listed = JSON.parse((await kubectl(["get", "pods", "-l", "job-name=echo-job", "-o", "json"])).stdout)
    expect(listed.items).toHaveLength(1)
    expect(listed.items[0].status.phase).toBe("Succeeded")
    // The kubelet turned `$$(GREETING)` into a literal `$(GREETING)`, which the single quotes keep from the shell.
    const logs = await kubectl(["logs", "job/echo-job"])
    expect(logs.stdout.trim()).toBe("got hi $(GREETING) hi")
    const pod = listed.items[0]
    expect((await server.containersOf(pod)).length).toBeGreaterThan(0)
    const deleted = await kubectl(["delete", "job", "echo-job", "--cascade=background"])
    expect(deleted.code).toBe(0)
    await until("the pods to go", async () => ((await kubectl(["get", "pods", "-l", "job-name=echo-job", "-o", "name"])).stdout.trim() === "" ? true : undefined))
    await until("the containers to go", async () => ((await server.containersOf(pod)).length === 0 ? true : undefined))
  }, 60_000)
})
