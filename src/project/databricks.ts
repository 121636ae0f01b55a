// The databricks_spark_job section and MLflow's rules for it (checked at load time, whatever the backend).
import { describeNode, entryOf, isNull, isString, keyText, unknownEntries, type MapNode, type Report } from "./diagnostics.ts"
import { pythonStr } from "./python-str.ts"
import type { EntryPoint, Project } from "./types.ts"
import { toPython, type YNode } from "./yaml.ts"

type SparkJob = NonNullable<Project["databricks_spark_job"]>

const stringList = (node: YNode | undefined, key: string, report: Report): string[] => {
  if (node === undefined || isNull(node)) return []
  if (node.kind === "seq") return node.items.map((item) => pythonStr(toPython(item)))
  report.warn("databricks.invalid", `databricks_spark_job.${key} must be a list, but it is ${describeNode(node)}; it is ignored`, node.pos, `write ${key}: ["..."]`)
  return []
}

/** Returns the spark job spec, or undefined when the section is absent or null (MLflow skips it then). */
export const sparkJobFrom = (root: MapNode, entryPoints: EntryPoint[], report: Report): SparkJob | undefined => {
  const section = entryOf(root, "databricks_spark_job")
  if (!section || isNull(section.value)) return undefined
  const node = section.value
  if (node.kind !== "map") {
    report.error("databricks.invalid", `databricks_spark_job must be a mapping with python_file, parameters and python_libraries, but it is ${describeNode(node)}`, node.pos)
    return undefined
  }
  for (const extra of unknownEntries(node, ["python_file", "parameters", "python_libraries"])) {
    report.warn("databricks.unknown_key", `unknown key '${keyText(extra)}' in databricks_spark_job: MLflow ignores it`, extra.key.pos, "known keys: python_file, parameters, python_libraries")
  }
  const pythonFile = entryOf(node, "python_file")?.value
  const hasFile = pythonFile !== undefined && !isNull(pythonFile)
  if (!hasFile && entryPoints.length === 0) {
    report.error("databricks.invalid", "Databricks Spark job requires either 'databricks_spark_job.python_file' setting or 'entry_points' setting.", section.key.pos, "add python_file: <script.py> under databricks_spark_job, or declare entry_points")
  }
  if (hasFile && entryPoints.length > 0) {
    report.error("databricks.invalid", "Databricks Spark job does not allow setting both 'databricks_spark_job.python_file' and 'entry_points'.", pythonFile.pos, "remove python_file or the entry_points section")
  }
  for (const param of entryPoints.flatMap((ep) => ep.parameters)) {
    if (param.type !== "path") continue
    const at = param.location ? { line: param.location.line, column: param.location.column } : section.key.pos
    report.error("databricks.invalid", `Databricks Spark job does not support entry point parameter of 'path' type. '${param.name}' value type is invalid.`, at, "declare it as type: string or uri")
  }
  const envNames = { docker_env: "docker", python_env: "python", conda_env: "conda" } as const
  for (const [key, label] of Object.entries(envNames)) {
    const env = entryOf(root, key)
    if (env) report.error("databricks.invalid", `Databricks Spark job does not support setting ${label} environment.`, env.key.pos, `remove ${key}: a Databricks Spark job runs in the cluster's environment`)
  }
  if (hasFile && !isString(pythonFile)) {
    report.warn("databricks.invalid", `databricks_spark_job.python_file is ${describeNode(pythonFile)}; it is used as '${pythonStr(toPython(pythonFile))}'`, pythonFile.pos, "quote the file name")
  }
  return {
    ...(hasFile ? { python_file: pythonStr(toPython(pythonFile)) } : {}),
    parameters: stringList(entryOf(node, "parameters")?.value, "parameters", report),
    python_libraries: stringList(entryOf(node, "python_libraries")?.value, "python_libraries", report),
  }
}
