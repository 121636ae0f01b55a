// The Job made from a template and the kubernetes backend config: MLflow's replacements, our additions, names, errors.
import { describe, expect, test } from "bun:test"
import { readKubeConfig } from "../../src/backend/kubernetes-config.ts"
import { containerName, dnsLabel, jobDefinition, jobName, jobTimestamp, kubeletLiteral } from "../../src/backend/kubernetes-job.ts"
import { ToolError } from "../../src/errors.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const template = () => ({
  apiVersion: "batch/v1",
  kind: "Job",
  metadata: { name: "placeholder", namespace: "mlflow", labels: { team: "ml" } },
  spec: {
    ttlSecondsAfterFinished: 100,
    backoffLimit: 0,
    template: {
      metadata: { labels: { app: "train" } },
      spec: {
        containers: [{ name: "x", image: "y", command: ["z"], args: ["kept"], env: [{ name: "KEEP", value: "1" }, { name: "MLFLOW_RUN_ID", value: "stale" }], resources: { limits: { memory: "512Mi" } } }],
        restartPolicy: "Never",
        imagePullSecrets: [{ name: "existing" }],
      },
    },
  },
})

const now = new Date(2026, 11, 2, 9, 5, 7, 42)
const input = (over: Partial<Parameters<typeof jobDefinition>[0]> = {}) => ({
  template: template(),
  projectName: "My_Project",
  image: "127.0.0.1:5000/team/p@sha256:abc",
  command: "python train.py --alpha 'a b' --path $HOME $(whoami) $$",
  env: [["MLFLOW_RUN_ID", "r1"], ["MLFLOW_TRACKING_URI", "http://t:5000"], ["MLFLOW_EXPERIMENT_ID", "3"], ["FROM_DOCKER_ENV", "cost=$5"]] as Array<[string, string]>,
  runId: "r1",
  experimentId: "3",
  namespace: "ns1",
  imagePullSecrets: ["regcred", "existing"],
  serviceAccount: "runner",
  now,
  ...over,
})

describe("names", () => {
  test.each([
    ["My_Project", "my-project"],
    ["--weird..name__", "weird-name"],
    ["ÜBER proj", "ber-proj"],
    ["", ""],
  ])("dnsLabel(%p) = %p", (given, expected) => expect(dnsLabel(given)).toBe(expected))

  test("the timestamp is MLflow's %Y-%m-%d-%H-%M-%S-%f in local time", () => expect(jobTimestamp(now)).toBe("2026-12-02-09-05-07-042000"))

  test("a Job name is a valid DNS-1123 label of at most 63 characters, whatever the project name", () => {
    for (const name of ["My_Project", "x".repeat(200), "UPPER", "", null, "a_b-c.d"]) {
      const job = jobName(name, now)
      expect(job.length).toBeLessThanOrEqual(63)
      expect(job).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
      expect(job.endsWith(jobTimestamp(now))).toBe(true)
    }
    expect(jobName("My_Project", now)).toBe("my-project-2026-12-02-09-05-07-042000")
    expect(containerName(null)).toBe("mlflow-project")
  })
})

describe("jobDefinition", () => {
  test("MLflow's replacements: name, first container's name, image, command; env appended in MLflow's order", () => {
    const job = jobDefinition(input())
    expect(job.metadata.name).toBe("my-project-2026-12-02-09-05-07-042000")
    const container = job.spec.template.spec.containers[0]
    expect(container.name).toBe("my-project")
    expect(container.image).toBe("127.0.0.1:5000/team/p@sha256:abc")
    expect(container.env.map((e: { name: string }) => e.name)).toEqual(["KEEP", "MLFLOW_RUN_ID", "MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "FROM_DOCKER_ENV"])
    expect(container.env.find((e: { name: string }) => e.name === "MLFLOW_RUN_ID").value).toBe("r1")
  })

  test("every other field is kept, and the template itself is not changed", () => {
    const given = template()
    const job = jobDefinition(input({ template: given }))
    expect(given.metadata.name).toBe("placeholder")
    expect(job.spec.ttlSecondsAfterFinished).toBe(100)
    expect(job.spec.backoffLimit).toBe(0)
    expect(job.spec.template.spec.containers[0].resources).toEqual({ limits: { memory: "512Mi" } })
    expect(job.spec.template.spec.containers[0].args).toEqual(["kept"])
    expect(job.metadata.labels.team).toBe("ml")
    expect(job.spec.template.metadata.labels.app).toBe("train")
  })

  test("our additions: namespace, pull secrets (no duplicates), service account, labels tying Job and pods to the run", () => {
    const job = jobDefinition(input())
    expect(job.metadata.namespace).toBe("ns1")
    expect(job.spec.template.spec.imagePullSecrets).toEqual([{ name: "existing" }, { name: "regcred" }])
    expect(job.spec.template.spec.serviceAccountName).toBe("runner")
    for (const labels of [job.metadata.labels, job.spec.template.metadata.labels]) expect(labels).toMatchObject({ "mlflow.org/run-id": "r1", "mlflow.org/experiment-id": "3" })
  })

  test("every $ is doubled in command and env values, so the kubelet's $(NAME) expansion hands over the exact text", () => {
    const job = jobDefinition(input())
    const container = job.spec.template.spec.containers[0]
    expect(container.command.slice(0, 2)).toEqual(["sh", "-c"])
    expect(container.command.at(-1)).toBe("python train.py --alpha 'a b' --path $$HOME $$(whoami) $$$$")
    expect(container.command[2]).toContain('"$$1"')
    expect(container.env.find((e: { name: string }) => e.name === "FROM_DOCKER_ENV").value).toBe("cost=$$5")
    expect(kubeletLiteral("$(A)$$")).toBe("$$(A)$$$$")
  })

  test("a template without metadata, restartPolicy or env gets them", () => {
    const bare = { spec: { template: { spec: { containers: [{ name: "c" }] } } } }
    const job = jobDefinition(input({ template: bare }))
    expect(job.apiVersion).toBe("batch/v1")
    expect(job.kind).toBe("Job")
    expect(job.spec.template.spec.restartPolicy).toBe("Never")
    expect(job.spec.template.spec.containers[0].env).toHaveLength(4)
  })
})

describe("readKubeConfig", () => {
  const thrown = (fn: () => unknown): ToolError => {
    try {
      fn()
    } catch (error) {
      return error as ToolError
    }
    throw new Error("expected an error")
  }

  test("MLflow's messages for what is missing, in MLflow's order", async () => {
    await using dir = tmpdirFor()
    dir.write("job.yaml", "kind: Job\nspec:\n  template:\n    spec:\n      containers:\n        - name: x\n")
    expect(thrown(() => readKubeConfig({}, dir.path, null)).message).toBe("Backend_config file not found.")
    expect(thrown(() => readKubeConfig({ "repository-uri": "r/x" }, dir.path, null)).message).toBe("'kube-job-template-path' attribute must be specified in backend_config.")
    expect(thrown(() => readKubeConfig({ "kube-job-template-path": "nope.yaml", "repository-uri": "r/x" }, dir.path, null)).message).toBe("Could not find 'kube-job-template-path': nope.yaml")
    expect(thrown(() => readKubeConfig({ "kube-job-template-path": "job.yaml" }, dir.path, null)).message).toBe("Could not find 'repository-uri' in backend_config.")
    const ok = readKubeConfig({ "kube-job-template-path": "job.yaml", "repository-uri": "127.0.0.1:5000/x", "kube-context": "dev" }, dir.path, null)
    expect(ok).toMatchObject({ context: "dev", repositoryUri: "127.0.0.1:5000/x", namespace: null, imagePullSecrets: [], pendingTimeoutMs: 300_000, warnings: [] })
  })

  test("a relative template path is looked for in the current folder first, then beside the config file", async () => {
    await using cwd = tmpdirFor()
    await using conf = tmpdirFor()
    conf.write("job.yaml", "spec: {template: {spec: {containers: [{name: beside}]}}}\n")
    const config = { "kube-job-template-path": "job.yaml", "repository-uri": "reg.example/x" }
    expect(readKubeConfig(config, cwd.path, conf.path).templatePath).toBe(`${conf.path}/job.yaml`)
    cwd.write("job.yaml", "spec: {template: {spec: {containers: [{name: here}]}}}\n")
    expect(readKubeConfig(config, cwd.path, conf.path).templatePath).toBe(`${cwd.path}/job.yaml`)
  })

  test("bad values and templates are clear, located errors; unknown keys are warnings", async () => {
    await using dir = tmpdirFor()
    dir.write("good.yaml", "spec: {template: {spec: {containers: [{name: c}]}}}\n")
    dir.write("bad.yaml", "spec:\n  template: [unclosed\n")
    dir.write("deploy.yaml", "kind: Deployment\nspec: {template: {spec: {containers: [{name: c}]}}}\n")
    dir.write("empty.yaml", "kind: Job\nspec: {}\n")
    const base = { "kube-job-template-path": "good.yaml", "repository-uri": "reg.example/x" }
    const cases: Array<[Record<string, unknown>, ToolError["code"], RegExp]> = [
      [{ ...base, "kube-job-template-path": "bad.yaml" }, "kube.template", /bad\.yaml:\d+: the Job template is not valid YAML/],
      [{ ...base, "kube-job-template-path": "deploy.yaml" }, "kube.template", /kind 'Deployment': only Job/],
      [{ ...base, "kube-job-template-path": "empty.yaml" }, "kube.template", /no spec\.template\.spec\.containers\[0\]/],
      [{ ...base, "repository-uri": "reg.example/x:v1" }, "kube.config", /without tag or digest/],
      [{ ...base, "repository-uri": "reg.example/x@sha256:00" }, "kube.config", /without tag or digest/],
      [{ ...base, "pending-timeout": -1 }, "kube.config", /pending-timeout/],
      [{ ...base, namespace: "Bad_NS" }, "kube.config", /not a valid namespace/],
      [{ ...base, "image-pull-secrets": [1] }, "kube.config", /image-pull-secrets/],
    ]
    for (const [config, code, message] of cases) {
      const error = thrown(() => readKubeConfig(config, dir.path, null))
      expect(error).toBeInstanceOf(ToolError)
      expect(error.code).toBe(code)
      expect(error.exitCode).toBe(2)
      expect(error.message).toMatch(message)
    }
    const warned = readKubeConfig({ ...base, "kube-contxt": "x", "image-pull-secrets": "a, b" }, dir.path, null)
    expect(warned.warnings[0]).toMatch(/unknown key 'kube-contxt'.*did you mean 'kube-context'/)
    expect(warned.imagePullSecrets).toEqual(["a", "b"])
  })
})
