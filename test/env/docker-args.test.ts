// -A docker arguments and docker_env values mapped to the Engine API: table-driven, no daemon needed.
import { describe, expect, test } from "bun:test"
import { bindSpec, gpuRequest, mapDockerArgs } from "../../src/env/docker-args.ts"
import { artifactAccess, containerSpec, containerVariables, planDocker, resolveEnvironment, shellCommand, trackingAccess } from "../../src/env/docker.ts"
import { isToolError } from "../../src/errors.ts"

const map = (pairs: Array<[string, string]>, env: Record<string, string> = {}) => mapDockerArgs(pairs, { cwd: "/work", env })

const thrown = (action: () => unknown) => {
  try {
    action()
  } catch (error) {
    if (isToolError(error)) return error
    throw error
  }
  throw new Error("expected a ToolError")
}

describe("-A docker arguments", () => {
  test.each([
    [["shm-size", "2g"], { ShmSize: 2 * 1024 ** 3 }],
    [["shm-size", "64m"], { ShmSize: 64 * 1024 ** 2 }],
    [["memory", "512MiB"], { Memory: 512 * 1024 ** 2 }],
    [["m", "1.5g"], { Memory: Math.round(1.5 * 1024 ** 3) }],
    [["memory-swap", "-1"], { MemorySwap: -1 }],
    [["cpus", "1.5"], { NanoCpus: 1_500_000_000 }],
    [["c", "512"], { CpuShares: 512 }],
    [["network", "host"], { NetworkMode: "host" }],
    [["net", "none"], { NetworkMode: "none" }],
    [["runtime", "nvidia"], { Runtime: "nvidia" }],
    [["ipc", "host"], { IpcMode: "host" }],
    [["privileged", "true"], { Privileged: true }],
    [["privileged", "false"], { Privileged: false }],
    [["init", "false"], { Init: false }],
    [["cap-add", "SYS_PTRACE,NET_ADMIN"], { CapAdd: ["SYS_PTRACE", "NET_ADMIN"] }],
    [["device", "/dev/fuse"], { Devices: [{ PathOnHost: "/dev/fuse", PathInContainer: "/dev/fuse", CgroupPermissions: "rwm" }] }],
    [["device", "/dev/a:/dev/b:r"], { Devices: [{ PathOnHost: "/dev/a", PathInContainer: "/dev/b", CgroupPermissions: "r" }] }],
    [["ulimit", "nofile=1024:2048"], { Ulimits: [{ Name: "nofile", Soft: 1024, Hard: 2048 }] }],
    [["tmpfs", "/scratch:size=64m"], { Tmpfs: { "/scratch": "size=64m" } }],
    [["sysctl", "net.core.somaxconn=1024"], { Sysctls: { "net.core.somaxconn": "1024" } }],
  ] as Array<[[string, string], Record<string, unknown>]>)("%p → HostConfig %p", (pair, expected) => {
    expect(map([pair]).hostConfig).toEqual(expected)
  })

  test.each([
    ["all", { Driver: "", Count: -1, Capabilities: [["gpu"]], Options: {} }],
    ["2", { Driver: "", Count: 2, Capabilities: [["gpu"]], Options: {} }],
    ["device=0,1", { Driver: "", Count: 0, DeviceIDs: ["0", "1"], Capabilities: [["gpu"]], Options: {} }],
    ['"device=0,2"', { Driver: "", Count: 0, DeviceIDs: ["0", "2"], Capabilities: [["gpu"]], Options: {} }],
    ["count=1,capabilities=compute,utility,driver=nvidia", { Driver: "nvidia", Count: 1, Capabilities: [["compute", "utility", "gpu"]], Options: {} }],
  ])("gpus=%s → a DeviceRequest", (value, expected) => {
    expect(gpuRequest(value)).toEqual(expected)
  })

  test("user, entrypoint, workdir, env and volumes: short flags too, repeats accumulate", () => {
    const mapped = map(
      [["u", "1234:1234"], ["entrypoint", ""], ["w", "/tmp"], ["e", "A=1=2"], ["env", "FROM_HOST"], ["env", "ABSENT"], ["v", "./data:/data:ro"], ["volume", "named:/cache"]],
      { FROM_HOST: "host value" },
    )
    expect(mapped.config).toEqual({ User: "1234:1234", Entrypoint: [""], WorkingDir: "/tmp" })
    expect(mapped.env).toEqual([["A", "1=2"], ["FROM_HOST", "host value"]])
    expect(mapped.binds).toEqual(["/work/data:/data:ro", "named:/cache"])
  })

  test("an unsupported key is an exit-2 error listing every supported key", () => {
    const error = thrown(() => map([["gpu", "all"], ["rm", "true"]]))
    expect(error.exitCode).toBe(2)
    expect(error.message).toBe("unsupported docker arguments: -A gpu, -A rm")
    expect(error.hint).toContain("gpus, shm-size, memory (m)")
    expect(error.hint).toContain("env (e)")
    expect(error.hint).toContain("volume (v)")
  })

  test.each([
    [["memory", "lots"], "-A memory=lots: expected a size such as 512m, 2g or 1073741824"],
    [["cpus", "-1"], "-A cpus=-1: expected a number of CPUs from 0.01 up to the daemon's CPU count, such as 1.5"],
    [["privileged", "maybe"], "-A privileged=maybe: expected true or false (or the bare name for true)"],
    [["gpus", "some"], "-A gpus=some: expected all, a number, or device=0,1 / count=N,capabilities=…,driver=…"],
  ] as Array<[[string, string], string]>)("%p is rejected clearly", (pair, message) => {
    expect(thrown(() => map([pair])).message).toBe(message)
  })
})

describe("-A values out of docker's range are refused with the range", () => {
  test.each([
    [[["memory", "1k"]], "-A memory=1k: expected 0 (no limit) or a size from 6m (docker's minimum) to 8p"],
    [[["memory-reservation", "5m"]], "-A memory-reservation=5m: expected 0 (no limit) or a size from 6m (docker's minimum) to 8p"],
    [[["shm-size", "99999999999999999999g"]], "-A shm-size=99999999999999999999g: expected a size up to 8 PiB (8p)"],
    [[["memory", "9p"]], "-A memory=9p: expected a size up to 8 PiB (8p)"],
    [[["memory-swap", "10m"]], "-A memory-swap=10m needs -A memory: docker takes a swap limit only with a memory limit"],
    [[["memory", "1g"], ["memory-swap", "512m"]], "-A memory-swap=512m: expected at least -A memory=1g, or -1 for unlimited swap"],
    [[["memory", "1g"], ["memory-reservation", "2g"]], "-A memory-reservation=2g: expected at most -A memory=1g"],
    [[["cpus", "0.001"]], "-A cpus=0.001: expected a number of CPUs from 0.01 up to the daemon's CPU count, such as 1.5"],
    [[["cpus", "1e300"]], "-A cpus=1e300: expected a number of CPUs from 0.01 up to the daemon's CPU count, such as 1.5"],
    [[["cpu-shares", "1"]], "-A cpu-shares=1: expected a whole number from 2 to 262144 (0: docker's default, 1024)"],
    [[["c", "262145"]], "-A c=262145: expected a whole number from 2 to 262144 (0: docker's default, 1024)"],
    [[["ulimit", "nofile=5:2"]], "-A ulimit=nofile=5:2: the soft limit (5) may not be over the hard limit (2): expected NAME=SOFT[:HARD], -1 for unlimited"],
    [[["ulimit", "nofile=99999999999999999999"]], "-A ulimit=nofile=99999999999999999999: expected NAME=SOFT[:HARD], whole numbers from -1 (unlimited) to 9007199254740991"],
    [[["ulimit", "nofile=-2"]], "-A ulimit=nofile=-2: expected NAME=SOFT[:HARD], whole numbers from -1 (unlimited) to 9007199254740991"],
    [[["gpus", "count=99999999999999999999"]], "-A gpus=99999999999999999999: expected a whole number from 0 to 9007199254740991"],
  ] as Array<[Array<[string, string]>, string]>)("%p", (pairs, message) => {
    const error = thrown(() => map(pairs))
    expect([error.code, error.message]).toEqual(["docker.args", message])
  })

  test("the edges themselves are accepted: 6m, 8p, 0.01 CPUs, 2 and 262144 shares, -1 ulimits, swap -1", () => {
    const mapped = map([["memory", "6m"], ["memory-swap", "-1"], ["shm-size", "8p"], ["cpus", "0.01"], ["cpu-shares", "262144"], ["ulimit", "nofile=-1"], ["ulimit", "nproc=1:-1"]])
    expect(mapped.hostConfig).toMatchObject({ Memory: 6 * 1024 ** 2, MemorySwap: -1, ShmSize: 8 * 1024 ** 5, NanoCpus: 1e7, CpuShares: 262144 })
    expect(mapped.hostConfig.Ulimits).toEqual([{ Name: "nofile", Soft: -1, Hard: -1 }, { Name: "nproc", Soft: 1, Hard: -1 }])
    expect(map([["cpu-shares", "0"], ["memory", "0"]]).hostConfig).toMatchObject({ CpuShares: 0, Memory: 0 })
  })

  test("an unknown name suggests the nearest known one", () => {
    expect(thrown(() => map([["shmsize", "1g"]])).hint).toStartWith("did you mean -A shm-size? supported: ")
    expect(thrown(() => map([["frobnicate", "1"]])).hint).toStartWith("supported: ")
  })
})

describe("docker_env values", () => {
  test("volumes: $(pwd), ${PWD}, $VAR, ~ and relative host paths resolve like MLflow's shell in the project folder", () => {
    const env = { DATA: "/srv/data", HOME: "/home/me" }
    expect(bindSpec("$(pwd):/home/app", "/p", env)).toBe("/p:/home/app")
    expect(bindSpec("${PWD}/../data:/data", "/p/q", env)).toBe("/p/q/../data:/data")
    expect(bindSpec("$DATA:/data:ro", "/p", env)).toBe("/srv/data:/data:ro")
    expect(bindSpec("~/.cache:/cache", "/p", env)).toBe("/home/me/.cache:/cache")
    expect(bindSpec("./sub:/sub", "/p", env)).toBe("/p/sub:/sub")
    expect(bindSpec("volname:/v", "/p", env)).toBe("volname:/v")
  })

  test("environment: pairs set, names copy, NAME=value sets; every missing name is reported at once", () => {
    expect(resolveEnvironment([["A", "a b"], "HOSTVAR", "C=1"], { HOSTVAR: "x" })).toEqual([["A", "a b"], ["HOSTVAR", "x"], ["C", "1"]])
    const error = thrown(() => resolveEnvironment(["ONE", ["P", "v"], "TWO", "THREE"], { TWO: "2" }))
    expect(error.code).toBe("docker.env.missing")
    expect(error.exitCode).toBe(2)
    expect(error.message).toBe(
      "This project expects the ONE, TWO, THREE environment variables to be set on the machine running the project, but ONE, THREE were not set. Please ensure all expected environment variables are set",
    )
  })

  test("a docker_env without an image is MLflow's error", () => {
    const error = thrown(() => planDocker({ docker: { image: "", volumes: [], environment: [] }, projectDir: "/p", projectName: "x", dockerArgs: [], buildImage: false, cwd: "/", env: {} }))
    expect(error.message).toContain("must specify the docker image to use via an 'image' field")
  })
})

describe("the container spec", () => {
  const plan = planDocker({
    docker: { image: "base:1", volumes: ["/srv:/srv"], environment: [["MLFLOW_TRACKING_URI", "http://override:5000"], "SECRET"] },
    projectDir: "/proj",
    projectName: "p",
    dockerArgs: [["e", "LAST=wins"], ["shm-size", "1g"]],
    buildImage: false,
    cwd: "/",
    env: { SECRET: "s3cr3t" },
  })
  const image = { uri: "base:1", id: "sha256:x", cached: true, built: false, platform: { os: "linux", architecture: "amd64" }, path: null }
  const run = { image, command: "python train.py --alpha 'a b'", runId: "f".repeat(32), experimentId: "7", cwd: "/" }

  test("command, variables in MLflow's order (docker_env last wins), mounts and -A settings", () => {
    const tmp = `/tmp/mlproject-spec-${process.pid}`
    const spec = containerSpec(plan, { ...run, trackingUri: `file://${tmp}/mlruns`, artifactUri: `file://${tmp}/mlruns/7/r/artifacts`, env: {} })
    expect(spec.body.Cmd).toEqual(shellCommand(run.command))
    expect(spec.body.Cmd.at(-1)).toBe(run.command)
    expect(spec.body.Env).toEqual([
      "TINI_KILL_PROCESS_GROUP=1",
      `MLFLOW_RUN_ID=${"f".repeat(32)}`,
      "MLFLOW_TRACKING_URI=http://override:5000",
      "MLFLOW_EXPERIMENT_ID=7",
      "MLFLOW_ALLOW_FILE_STORE=true",
      "SECRET=s3cr3t",
      "LAST=wins",
    ])
    expect(spec.body.WorkingDir).toBe("/mlflow/projects/code")
    expect(spec.hostDirs).toEqual([`${tmp}/mlruns`, `${tmp}/mlruns/7/r/artifacts`])
    expect(containerVariables(spec)).toMatchObject({ SECRET: "***", LAST: "wins", MLFLOW_EXPERIMENT_ID: "7" })
    expect(spec.body.HostConfig).toMatchObject({
      Init: true,
      ShmSize: 1024 ** 3,
      Binds: ["/proj:/mlflow/projects/code", `${tmp}/mlruns:/mlflow/tmp/mlruns`, `${tmp}/mlruns/7/r/artifacts:${tmp}/mlruns/7/r/artifacts`, "/srv:/srv"],
    })
  })

  test("tracking and artifact access follow MLflow: sqlite mounted, servers passed, S3/GCS credentials as variables", () => {
    // The folder holding the file (its journal lives beside it), not the file alone as MLflow mounts it.
    expect(trackingAccess("sqlite:////data/mlflow.db", {}, "/")).toEqual({ binds: ["/data:/mlflow/tmp/mlruns"], env: [["MLFLOW_TRACKING_URI", "sqlite:////mlflow/tmp/mlruns/mlflow.db"]] })
    expect(trackingAccess("http://srv:5000", { MLFLOW_TRACKING_TOKEN: "t" }, "/").env).toEqual([["MLFLOW_TRACKING_URI", "http://srv:5000"], ["MLFLOW_TRACKING_TOKEN", "t"]])
    const s3 = artifactAccess("s3://bucket/x", { AWS_ACCESS_KEY_ID: "id", AWS_SECRET_ACCESS_KEY: "key", MLFLOW_S3_ENDPOINT_URL: "http://minio:9000", HOME: "/nonexistent" })
    expect(s3).toEqual({ binds: [], env: [["AWS_ACCESS_KEY_ID", "id"], ["AWS_SECRET_ACCESS_KEY", "key"], ["MLFLOW_S3_ENDPOINT_URL", "http://minio:9000"]] })
    expect(artifactAccess("gs://b/x", { GOOGLE_APPLICATION_CREDENTIALS: "/k.json" })).toEqual({ binds: ["/k.json:/.gcs:ro"], env: [["GOOGLE_APPLICATION_CREDENTIALS", "/.gcs"]] })
  })
})
