// `-A name[=value]` docker run arguments, and docker_env volumes, mapped onto the Engine API's container and host config.
import { isAbsolute, resolve } from "node:path"
import { ToolError } from "../errors.ts"
import { closest } from "../util/closest.ts"

type Env = Record<string, string | undefined>

export type HostConfig = Record<string, unknown> & { Binds?: string[] }

export type MappedArgs = {
  /** Fields of the create body itself (User, Entrypoint, WorkingDir, Hostname, Labels). */
  config: Record<string, unknown>
  hostConfig: HostConfig
  env: Array<[string, string]>
  binds: string[]
  name?: string
}

const usage = (key: string, value: string, expected: string): ToolError =>
  new ToolError("docker.args", `-A ${key}=${value}: ${expected}`)

// Past 2^53 (8 PiB) a JSON number no longer holds every whole value (the daemon's int64 fields end at 2^63): the top.
const maxBytes = 2 ** 53
// The daemon refuses smaller memory limits and reservations when it creates the container (linuxMinMemory, 6 MiB),
// which is after the run was recorded: refused here instead.
const minMemory = 6 * 1024 ** 2
// The kernel's range for cpu.shares (cgroup v1; v2 maps it onto cpu.weight); 0 means docker's default (1024).
const minShares = 2
const maxShares = 262_144

const bytes = (key: string, value: string): number => {
  // docker's RAMInBytes: binary units, an optional `i` and `b`.
  const match = /^(\d+(?:\.\d+)?) ?([kmgtp])?i?b?$/i.exec(value.trim())
  if (!match) throw usage(key, value, "expected a size such as 512m, 2g or 1073741824")
  const power = " kmgtp".indexOf((match[2] ?? " ").toLowerCase())
  const size = Math.round(Number(match[1]) * 1024 ** power)
  if (size > maxBytes) throw usage(key, value, "expected a size up to 8 PiB (8p)")
  return size
}

/** A memory limit: 0 (none) or at least docker's 6 MiB. */
const memory = (key: string, value: string): number => {
  const size = bytes(key, value)
  if (size !== 0 && size < minMemory) throw usage(key, value, "expected 0 (no limit) or a size from 6m (docker's minimum) to 8p")
  return size
}

/** A whole number within [min, max], or null. */
const wholeIn = (text: string, min: number, max = Number.MAX_SAFE_INTEGER): number | null => {
  const number = Number(text)
  return /^-?\d+$/.test(text.trim()) && Number.isSafeInteger(number) && number >= min && number <= max ? number : null
}

const integer = (key: string, value: string, min = -Number.MAX_SAFE_INTEGER): number => {
  const number = wholeIn(value, min)
  if (number === null) throw usage(key, value, `expected a whole number${min === -Number.MAX_SAFE_INTEGER ? "" : ` from ${min} to ${Number.MAX_SAFE_INTEGER}`}`)
  return number
}

const cpuShares = (key: string, value: string): number => {
  const shares = wholeIn(value, 0, maxShares)
  if (shares === null || (shares !== 0 && shares < minShares)) throw usage(key, value, `expected a whole number from ${minShares} to ${maxShares} (0: docker's default, 1024)`)
  return shares
}

const boolean = (key: string, value: string): boolean => {
  const lowered = value.trim().toLowerCase()
  if (["true", "1", "yes"].includes(lowered)) return true
  if (["false", "0", "no"].includes(lowered)) return false
  throw usage(key, value, "expected true or false (or the bare name for true)")
}

const pair = (key: string, value: string, separator = "="): [string, string] => {
  const at = value.indexOf(separator)
  if (at <= 0) throw usage(key, value, `expected NAME${separator}VALUE`)
  return [value.slice(0, at), value.slice(at + 1)]
}

/** `all`, a count, or docker's CSV form (`device=0,1`, `count=2,capabilities=compute,driver=nvidia`). */
export const gpuRequest = (value: string): Record<string, unknown> => {
  const text = value.trim().replace(/^"(.*)"$/, "$1")
  const request = { Driver: "", Count: 0, DeviceIDs: [] as string[], Capabilities: [] as string[], Options: {} as Record<string, string> }
  let field = ""
  for (const token of text.split(",")) {
    const eq = token.indexOf("=")
    // A token without `=` continues the previous field's list (`device=0,1`), or is the whole value (`all`, `2`).
    if (eq !== -1) field = token.slice(0, eq).trim()
    const part = (eq === -1 ? token : token.slice(eq + 1)).trim()
    if (field === "") {
      if (part !== "all" && !/^\d+$/.test(part)) throw usage("gpus", value, "expected all, a number, or device=0,1 / count=N,capabilities=…,driver=…")
      request.Count = part === "all" ? -1 : integer("gpus", part, 0)
    } else if (field === "device") request.DeviceIDs.push(part)
    else if (field === "count") request.Count = part === "all" ? -1 : integer("gpus", part, 0)
    else if (field === "capabilities") request.Capabilities.push(part)
    else if (field === "driver") request.Driver = part
    else if (field === "options") {
      const [name, option] = pair("gpus", part)
      request.Options[name] = option
    } else throw usage("gpus", value, `unknown field '${field}' (expected device, count, capabilities, driver, options)`)
  }
  const capabilities = request.Capabilities.includes("gpu") ? request.Capabilities : [...request.Capabilities, "gpu"]
  return {
    Driver: request.Driver,
    Count: request.Count,
    ...(request.DeviceIDs.length > 0 ? { DeviceIDs: request.DeviceIDs } : {}),
    Capabilities: [capabilities],
    Options: request.Options,
  }
}

/** `host[:container[:rw|ro|…]]`: `$(pwd)`, `$PWD`, `${VAR}`, `~` and relative host paths resolved, as MLflow's shell would. */
export const bindSpec = (volume: string, baseDir: string, env: Env): string => {
  const expanded = volume
    .replace(/\$\(pwd\)|\$\{PWD\}|\$PWD\b/g, baseDir)
    .replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, braced, bare) => env[braced ?? bare] ?? "")
    .replace(/^~(?=\/|:)/, env.HOME ?? "~")
  const colon = expanded.indexOf(":")
  if (colon === -1) return expanded
  const host = expanded.slice(0, colon)
  // A name without a slash is a named volume; anything path-like is a bind of a host path.
  const isPath = host.includes("/") || host === "." || host === ".."
  return isPath && !isAbsolute(host) ? `${resolve(baseDir, host)}${expanded.slice(colon)}` : expanded
}

type Target = MappedArgs & { cwd: string; hostEnv: Env }
type Handler = (value: string, target: Target, key: string) => void

const host = (field: string, parse: (key: string, value: string) => unknown): Handler => (value, target, key) => {
  target.hostConfig[field] = parse(key, value)
}
const hostList = (field: string, split = false): Handler => (value, target) => {
  const items = split ? value.split(",").map((item) => item.trim()).filter(Boolean) : [value]
  target.hostConfig[field] = [...((target.hostConfig[field] as string[] | undefined) ?? []), ...items]
}
const hostMap = (field: string, parseEntry: (key: string, value: string) => [string, string]): Handler => (value, target, key) => {
  const [name, entry] = parseEntry(key, value)
  target.hostConfig[field] = { ...((target.hostConfig[field] as Record<string, string> | undefined) ?? {}), [name]: entry }
}
const text = (key: string, value: string) => value
// Below 0.01 CPU the daemon's CFS quota falls under the kernel's 1 ms floor; the top is the daemon's CPU count (checked in plan).
export const minCpus = 0.01
const cpus = (key: string, value: string) => {
  const count = Number(value)
  if (value.trim() === "" || !Number.isFinite(count) || count < minCpus || count * 1e9 > Number.MAX_SAFE_INTEGER) {
    throw usage(key, value, `expected a number of CPUs from ${minCpus} up to the daemon's CPU count, such as 1.5`)
  }
  return Math.round(count * 1e9)
}

const handlers: Record<string, Handler> = {
  gpus: (value, target) => {
    target.hostConfig.DeviceRequests = [...((target.hostConfig.DeviceRequests as unknown[]) ?? []), gpuRequest(value)]
  },
  "shm-size": host("ShmSize", bytes),
  memory: host("Memory", memory),
  "memory-swap": host("MemorySwap", (key, value) => (value.trim() === "-1" ? -1 : memory(key, value))),
  "memory-reservation": host("MemoryReservation", memory),
  cpus: host("NanoCpus", cpus),
  "cpu-shares": host("CpuShares", cpuShares),
  "cpuset-cpus": host("CpusetCpus", text),
  network: host("NetworkMode", text),
  runtime: host("Runtime", text),
  ipc: host("IpcMode", text),
  pid: host("PidMode", text),
  privileged: host("Privileged", boolean),
  "read-only": host("ReadonlyRootfs", boolean),
  init: host("Init", boolean),
  "cap-add": hostList("CapAdd", true),
  "cap-drop": hostList("CapDrop", true),
  "security-opt": hostList("SecurityOpt"),
  "add-host": hostList("ExtraHosts"),
  dns: hostList("Dns", true),
  "group-add": hostList("GroupAdd", true),
  sysctl: hostMap("Sysctls", (key, value) => pair(key, value)),
  tmpfs: hostMap("Tmpfs", (key, value) => (value.includes(":") ? pair(key, value, ":") : [value, ""])),
  device: (value, target) => {
    const [onHost, inContainer, permissions] = value.split(":")
    const device = { PathOnHost: onHost, PathInContainer: inContainer || onHost, CgroupPermissions: permissions || "rwm" }
    target.hostConfig.Devices = [...((target.hostConfig.Devices as unknown[]) ?? []), device]
  },
  ulimit: (value, target, key) => {
    const [name, limits] = pair(key, value)
    const [soft, hard] = limits.split(":")
    // -1 is unlimited; docker refuses a soft limit over the hard one.
    const [softLimit, hardLimit] = [wholeIn(soft ?? "", -1), wholeIn(hard ?? soft ?? "", -1)]
    if (softLimit === null || hardLimit === null) throw usage(key, value, `expected NAME=SOFT[:HARD], whole numbers from -1 (unlimited) to ${Number.MAX_SAFE_INTEGER}`)
    if (hardLimit !== -1 && (softLimit === -1 || softLimit > hardLimit)) {
      throw usage(key, value, `the soft limit (${soft}) may not be over the hard limit (${hard}): expected NAME=SOFT[:HARD], -1 for unlimited`)
    }
    const ulimit = { Name: name, Soft: softLimit, Hard: hardLimit }
    target.hostConfig.Ulimits = [...((target.hostConfig.Ulimits as unknown[]) ?? []), ulimit]
  },
  user: (value, target) => void (target.config.User = value),
  workdir: (value, target) => void (target.config.WorkingDir = value),
  hostname: (value, target) => void (target.config.Hostname = value),
  // docker's --entrypoint takes one program, not a command line; an empty value clears the image's entrypoint.
  entrypoint: (value, target) => void (target.config.Entrypoint = [value]),
  label: (value, target, key) => {
    const [name, labelValue] = value.includes("=") ? pair(key, value) : [value, ""]
    target.config.Labels = { ...((target.config.Labels as Record<string, string>) ?? {}), [name]: labelValue }
  },
  env: (value, target) => {
    const eq = value.indexOf("=")
    if (eq > 0) return void target.env.push([value.slice(0, eq), value.slice(eq + 1)])
    // `-e NAME` copies the host's value, and is dropped when the host has none, as docker does.
    const copied = target.hostEnv[value]
    if (copied !== undefined) target.env.push([value, copied])
  },
  volume: (value, target) => void target.binds.push(bindSpec(value, target.cwd, target.hostEnv)),
  name: (value, target) => void (target.name = value),
}

/**
 * The rules docker applies between the memory settings when it creates the container (after the run was recorded):
 * a swap limit needs a memory limit at least that small, and a reservation may not exceed the limit.
 */
const checkMemory = (config: HostConfig, given: (name: string) => string): void => {
  const limit = config.Memory as number | undefined
  const swap = config.MemorySwap as number | undefined
  const reservation = config.MemoryReservation as number | undefined
  if (swap !== undefined && swap > 0) {
    if (!limit) throw new ToolError("docker.args", `-A memory-swap=${given("memory-swap")} needs -A memory: docker takes a swap limit only with a memory limit`)
    if (swap < limit) throw new ToolError("docker.args", `-A memory-swap=${given("memory-swap")}: expected at least -A memory=${given("memory")}, or -1 for unlimited swap`)
  }
  if (limit && reservation && reservation > limit) {
    throw new ToolError("docker.args", `-A memory-reservation=${given("memory-reservation")}: expected at most -A memory=${given("memory")}`)
  }
}

/** docker's short flags, which MLflow turns into `-k`: `-A e=…`, `-A v=…`, `-A m=…` … */
const shortFlags: Record<string, string> = { e: "env", v: "volume", m: "memory", c: "cpu-shares", u: "user", w: "workdir", h: "hostname", l: "label" }
const aliases: Record<string, string> = { ...shortFlags, net: "network", "mount-volume": "volume" }

export const supportedDockerArgs = (): string =>
  Object.keys(handlers)
    .map((key) => {
      const short = Object.entries(shortFlags).find(([, long]) => long === key)?.[0]
      return short ? `${key} (${short})` : key
    })
    .join(", ")

/** Maps every `-A` pair; an unknown name is an error (exit 2) that lists the supported ones. Repeats accumulate. */
export const mapDockerArgs = (pairs: Array<[string, string]>, context: { cwd: string; env: Env }): MappedArgs => {
  const target: Target = { config: {}, hostConfig: {}, env: [], binds: [], cwd: context.cwd, hostEnv: context.env }
  const unknown = pairs.map(([key]) => key).filter((key) => !handlers[aliases[key] ?? key])
  if (unknown.length > 0) {
    const near = unknown.map((key) => closest(key, Object.keys(handlers))).find((name) => name !== undefined)
    throw new ToolError("docker.args", `unsupported docker argument${unknown.length > 1 ? "s" : ""}: ${unknown.map((k) => `-A ${k}`).join(", ")}`, {
      hint: `${near ? `did you mean -A ${near}? ` : ""}supported: ${supportedDockerArgs()}`,
    })
  }
  for (const [key, value] of pairs) {
    const long = aliases[key] ?? key
    ;(handlers[long] as Handler)(value, target, key)
  }
  checkMemory(target.hostConfig, (name) => pairs.findLast(([key]) => (aliases[key] ?? key) === name)?.[1] ?? "")
  const { cwd: _cwd, hostEnv: _hostEnv, ...mapped } = target
  return mapped
}
