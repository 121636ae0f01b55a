// The loaded MLproject as plain data, shared by the loader, parameters, commands and the CLI.

/** A problem found in a project file: located, with a stable code and, where it helps, the fix. */
export type Diagnostic = {
  severity: "error" | "warning"
  code: string
  message: string
  hint?: string
  file?: string
  line?: number
  column?: number
  /** Set when the problem is confined to one entry point: only that entry point is unusable. */
  entry_point?: string
}

export type Location = { file: string; line: number; column: number }

/** Canonical parameter types; `declared_type` keeps what the file said (`int`, `str`, `list[str]`…). */
export type ParameterType = "string" | "float" | "int" | "bool" | "path" | "uri"

export type ParameterSpec = {
  name: string
  type: ParameterType
  declared_type: string
  /** The default rendered exactly as MLflow renders it (Python `str()` of the YAML 1.1 value); null = required. */
  default: string | null
  location?: Location
}

export type EntryPoint = {
  name: string
  /** The command template as written, `{placeholders}` unexpanded. */
  command: string
  parameters: ParameterSpec[]
  /** True for a `.py`/`.sh`/`.R` file run as an undeclared entry point. */
  script: boolean
  location?: Location
  /** Errors confined to this entry point (an undeclared placeholder, a missing command…). */
  problems: Diagnostic[]
}

export type DockerEnv = {
  image: string
  volumes: string[]
  /** A string copies the variable from the host; a pair sets it. */
  environment: Array<string | [string, string]>
}

export type ProjectEnv =
  | { kind: "docker"; docker: DockerEnv }
  | { kind: "python_env"; file: string; implicit: boolean }
  | { kind: "conda_env"; file: string; implicit: boolean }
  /** No environment file: MLflow would build an empty virtualenv; we default to the local environment. */
  | { kind: "none" }

export type Project = {
  /** Absolute project directory. */
  dir: string
  /**
   * The folder every file the project names must stay inside once symlinks are followed (MLproject, env files,
   * requirements files, script entry points): `dir`, the folder named before `#subdir`, or the fetched tree.
   */
  root: string
  /** Absolute path of the MLproject file, or null when the folder conventions apply. */
  file: string | null
  name: string | null
  env: ProjectEnv
  /** Declared entry points in file order. */
  entry_points: EntryPoint[]
  databricks_spark_job?: { python_file?: string; parameters: string[]; python_libraries: string[] }
  /** Every warning and error found while loading (file-level and entry-point-level). */
  diagnostics: Diagnostic[]
}

/** One parameter after resolution. */
export type ResolvedParameter = {
  name: string
  type: ParameterType
  declared: boolean
  /** The value the command receives (an absolute path for a local `path` parameter). */
  value: string
  /** The value as the user gave it, or the rendered default: what is logged to the run. */
  logged: string
  source: "user" | "default"
  /** A remote `path` value that was downloaded (`value` is then the local copy): its URI and version (null: none known). */
  remote?: { uri: string; version: string | null }
}

export type ResolvedParameters = {
  /** Declared parameters in declaration order, then extras in the order the user gave them. */
  parameters: ResolvedParameter[]
  /** The final shell command: template filled with quoted values, extras appended. */
  command: string
  warnings: Diagnostic[]
}
