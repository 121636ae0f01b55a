// The project's environment: docker_env, python_env, conda_env, their rules, and the folder conventions.
import { existsSync } from "node:fs"
import { relative } from "node:path"
import { isToolError } from "../errors.ts"
import { containedFile } from "./project-file.ts"
import { describeNode, entryOf, isString, keyText, truthy, unknownEntries, type MapNode, type Report } from "./diagnostics.ts"
import { readPythonEnv } from "./python-env.ts"
import { pythonStr } from "./python-str.ts"
import type { Diagnostic, DockerEnv, ProjectEnv } from "./types.ts"
import { toPython, type YNode } from "./yaml.ts"

export const envKeys = ["docker_env", "python_env", "conda_env"] as const

const invalidConfig = "Project configuration (MLproject file) was invalid: "

/** Python's os.path.join(dir, value): an absolute value wins, nothing is normalised (`../env.yml` stays). */
const joinPath = (dir: string, value: string) => (value.startsWith("/") ? value : `${dir.endsWith("/") ? dir : `${dir}/`}${value}`)

/** Where MLproject names the env file: a problem with the file as a whole (outside, a FIFO) is located there. */
type NamedAt = { file: string; line: number; column: number }

/** An env-file problem found at load time; env files are only read when mlproject builds the environment. */
const envFileProblem = (code: "python_env.invalid" | "conda_env.invalid", error: { message: string; hint?: string; location?: { file: string; line?: number; column?: number } }, file: string, named?: NamedAt): Diagnostic => {
  const at = error.location?.line || !named ? error.location : named
  return {
    severity: "error",
    code,
    message: `${error.message} (only a problem when mlproject builds the environment; --env-manager local still runs)`,
    ...(error.hint ? { hint: error.hint } : {}),
    file: at?.file ?? file,
    ...(at?.line ? { line: at.line, column: at.column ?? 1 } : {}),
  }
}

/** python_env.yaml is only read when MLflow builds the environment, so its problems never block `--env-manager local`. */
export const checkPythonEnv = (dir: string, root: string, file: string, diagnostics: Diagnostic[], named?: NamedAt) => {
  const display = relative(dir, file) || file
  try {
    readPythonEnv(root, file, display)
  } catch (error) {
    if (!isToolError(error)) throw error
    diagnostics.push(envFileProblem("python_env.invalid", error, file, named))
  }
}

/** conda.yaml is read by conda itself at build time; here only where it is: inside the project, a regular file. */
const checkCondaEnv = (dir: string, root: string, file: string, diagnostics: Diagnostic[], named?: NamedAt) => {
  try {
    containedFile(root, file, relative(dir, file) || file, "conda environment file")
  } catch (error) {
    if (!isToolError(error)) throw error
    diagnostics.push(envFileProblem("conda_env.invalid", error, file, named))
  }
}

/** MLflow's step 7: python_env.yaml, then conda.yaml, else no environment file. */
export const conventionEnv = (dir: string, root: string, diagnostics: Diagnostic[]): ProjectEnv => {
  const python = joinPath(dir, "python_env.yaml")
  if (existsSync(python)) {
    checkPythonEnv(dir, root, python, diagnostics)
    return { kind: "python_env", file: python, implicit: true }
  }
  const conda = joinPath(dir, "conda.yaml")
  if (existsSync(conda)) {
    checkCondaEnv(dir, root, conda, diagnostics)
    return { kind: "conda_env", file: conda, implicit: true }
  }
  return { kind: "none" }
}

const dockerEnv = (node: YNode, hasName: boolean, report: Report): ProjectEnv | null => {
  if (node.kind !== "map") {
    const hint = isString(node) ? `write docker_env: {image: ${node.value}}` : "write docker_env: {image: <image name>}"
    report.error("docker_env.invalid", `${invalidConfig}docker_env must be a mapping with an image, but it is ${describeNode(node)}`, node.pos, hint)
    return null
  }
  for (const extra of unknownEntries(node, ["image", "volumes", "environment"])) {
    const hint = keyText(extra) === "dockerfile" ? "MLflow cannot build from a Dockerfile: build and tag the image, then set image:" : "known keys: image, volumes, environment"
    report.warn("docker_env.unknown_key", `unknown key '${keyText(extra)}' in docker_env: MLflow ignores it`, extra.key.pos, hint)
  }
  let ok = true
  const image = entryOf(node, "image")?.value
  if (!truthy(image)) {
    report.error("docker_env.invalid", `${invalidConfig}Docker environment specified but no image attribute found.`, image?.pos ?? node.pos, "add image: <name[:tag]> under docker_env")
    ok = false
  } else if (image && !isString(image)) {
    report.warn("docker_env.image", `docker_env image is ${describeNode(image)}; it is used as '${pythonStr(toPython(image))}'`, image.pos, "quote the image name")
  }
  const volumes = entryOf(node, "volumes")?.value
  const volumeList = volumes?.kind === "seq" && volumes.items.every(isString) ? volumes.items.map((v) => (isString(v) ? v.value : "")) : null
  if (truthy(volumes) && volumes && !volumeList) {
    report.error("docker_env.invalid", `${invalidConfig}Docker volumes must be a list of strings, e.g.: '["/path1/:/path1", "/path2/:/path2"])`, volumes.pos, 'write volumes: ["/host/path:/container/path"]')
    ok = false
  }
  const environment = entryOf(node, "environment")?.value
  const variables = environment ? environmentOf(environment, report) : []
  if (variables === null) ok = false
  if (!hasName) {
    report.warn("docker_env.no_name", "a docker_env project has no name: MLflow refuses to run it (the image is tagged with the name)", node.pos, "add name: <project name>")
  }
  if (!ok || !image || variables === null) return null
  const docker: DockerEnv = { image: pythonStr(toPython(image)), volumes: volumeList ?? [], environment: variables }
  return { kind: "docker", docker }
}

const environmentOf = (node: YNode, report: Report): DockerEnv["environment"] | null => {
  if (!truthy(node)) return []
  const shapeOk = node.kind === "seq" && node.items.every((item) => item.kind === "seq" || isString(item))
  if (node.kind !== "seq" || !shapeOk) {
    const message = `${invalidConfig}environment must be a list containing either strings (to copy environment variables from host system) or lists of string pairs (to define new environment variables).E.g.: '[["NEW_VAR", "new_value"], "VAR_TO_COPY_FROM_HOST"])`
    report.error("docker_env.invalid", message, node.pos, 'write environment: [["NEW_VAR", "value"], "VAR_FROM_HOST"]')
    return null
  }
  const out: DockerEnv["environment"] = []
  for (const item of node.items) {
    if (isString(item)) out.push(item.value)
    if (item.kind !== "seq") continue
    const [name, value] = item.items.map((x) => pythonStr(toPython(x)))
    // MLflow indexes the pair when it builds `docker run -e`, so a short one fails every run.
    if (name === undefined || value === undefined) {
      report.error("docker_env.invalid", `${invalidConfig}environment entry ${pythonStr(toPython(item))} must be a [NAME, VALUE] pair`, item.pos, 'write ["NAME", "value"]')
      return null
    }
    if (item.items.length > 2) report.warn("docker_env.environment", `environment entry ${pythonStr(toPython(item))} has more than two items: MLflow uses the first two`, item.pos)
    out.push([name, value])
  }
  return out
}

const envFile = (dir: string, root: string, key: "python_env" | "conda_env", node: YNode, report: Report): ProjectEnv | null => {
  const what = key === "python_env" ? "python_env file" : "conda environment file"
  if (!isString(node)) {
    report.error("env_file.invalid", `${key} must be the path of a file relative to the project folder, but it is ${describeNode(node)}`, node.pos, `write ${key}: ${key === "python_env" ? "python_env.yaml" : "conda.yaml"}`)
    return null
  }
  const file = joinPath(dir, node.value)
  if (!existsSync(file)) {
    report.error("env_file.missing", `Project specified ${what} ${file}, but no such file was found.`, node.pos, `create ${node.value} or fix the path (it is relative to the project folder)`)
    return null
  }
  const named = { file: report.file, line: node.pos.line, column: node.pos.column }
  if (key === "python_env") {
    checkPythonEnv(dir, root, file, report.list, named)
    return { kind: "python_env", file, implicit: false }
  }
  checkCondaEnv(dir, root, file, report.list, named)
  return { kind: "conda_env", file, implicit: false }
}

/** MLflow's order: docker_env, python_env, conda_env (each only when truthy), then the conventions. */
export const projectEnv = (dir: string, projectRoot: string, root: MapNode, report: Report): ProjectEnv => {
  const present = envKeys.map((key) => entryOf(root, key)).filter((e) => e !== undefined)
  const second = [...present].sort((a, b) => a.key.pos.line - b.key.pos.line || a.key.pos.column - b.key.pos.column)[1]
  if (second) {
    const names = present.map(keyText).sort().map((k) => `'${k}'`)
    report.error("env.multiple", `Project cannot contain multiple environment fields: {${names.join(", ")}}`, second.key.pos, "keep only one of docker_env, python_env and conda_env (a key counts even when it is empty)")
  }
  for (const entry of present) {
    if (!truthy(entry.value)) {
      report.warn("env.empty", `${keyText(entry)} is empty, so MLflow ignores it`, entry.key.pos, `remove the ${keyText(entry)} line or give it a value`)
    }
  }
  const hasName = truthy(entryOf(root, "name")?.value)
  const docker = entryOf(root, "docker_env")?.value
  if (docker && truthy(docker)) return dockerEnv(docker, hasName, report) ?? { kind: "none" }
  for (const key of ["python_env", "conda_env"] as const) {
    const value = entryOf(root, key)?.value
    if (value && truthy(value)) return envFile(dir, projectRoot, key, value, report) ?? { kind: "none" }
  }
  return conventionEnv(dir, projectRoot, report.list)
}
