// `mlproject run [URI]`: every flag of `mlflow run`, turned into a RunRequest for the run core.
import { ToolError } from "../errors.ts"
import { parseDuration } from "../util/duration.ts"
import { closest } from "../util/closest.ts"
import { timerLimitText, timerMs } from "../util/ranges.ts"
import { runProject } from "../run/lifecycle.ts"
import type { RunRequest } from "../run/request.ts"
import { parsePairs, type OptionSpec, type Parsed } from "./args.ts"
import { entryPointOption, paramOption } from "./project-uri.ts"
import type { Command } from "./context.ts"

const graceSeconds = (raw: string | undefined): number => {
  if (raw === undefined) return 10_000
  const ms = raw.trim() === "" ? null : timerMs(Number(raw))
  if (ms === null) throw new ToolError("usage", `--grace ${raw}: expected a number of seconds from 0 to ${timerLimitText}, e.g. 10 or 0.5`)
  return ms
}

const fetchers = ["auto", "git", "tarball"] as const

const retryCount = (raw: string | undefined): number => {
  if (raw === undefined) return 0
  const count = Number(raw)
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(count) || count > 1000) {
    throw new ToolError("usage", `--retries ${raw}: expected a whole number from 0 to 1000`)
  }
  return count
}

const fetcherChoice = (raw: string | undefined): RunRequest["fetcher"] => {
  if (raw === undefined) return "auto"
  const known = fetchers.find((name) => name === raw)
  if (known) return known
  const near = closest(raw, fetchers)
  throw new ToolError("usage", `--fetcher ${raw}: expected auto, git or tarball`, near ? { hint: `did you mean --fetcher ${near}?` } : undefined)
}

export const toRequest = (parsed: Parsed, env: Record<string, string | undefined>): RunRequest => {
  const experimentName = parsed.values["experiment-name"] ?? env.MLFLOW_EXPERIMENT_NAME
  const experimentId = parsed.values["experiment-id"] ?? env.MLFLOW_EXPERIMENT_ID
  if (experimentName !== undefined && experimentId !== undefined) {
    throw new ToolError("usage", "Specify only one of 'experiment-name' or 'experiment-id' options.", {
      hint: "MLFLOW_EXPERIMENT_NAME and MLFLOW_EXPERIMENT_ID count too: unset the one you do not mean",
    })
  }
  return {
    uri: parsed.positionals[0] ?? ".",
    entryPoint: parsed.values["entry-point"] ?? "main",
    version: parsed.values.version,
    params: parsePairs("-P", parsed.lists["param-list"] ?? [], false),
    dockerArgs: parsePairs("-A", parsed.lists["docker-args"] ?? [], true, true),
    experimentName,
    experimentId,
    backend: parsed.values.backend ?? "local",
    backendConfig: parsed.values["backend-config"],
    envManager: parsed.values["env-manager"],
    storageDir: parsed.values["storage-dir"] ?? env.MLFLOW_TMP_DIR,
    runId: parsed.values["run-id"],
    runName: parsed.values["run-name"],
    buildImage: parsed.flags["build-image"] ?? false,
    dryRun: parsed.flags["dry-run"] ?? false,
    rebuildEnv: parsed.flags["rebuild-env"] ?? false,
    noCache: parsed.flags["no-cache"] ?? false,
    fetcher: fetcherChoice(parsed.values.fetcher),
    graceMs: graceSeconds(parsed.values.grace),
    detach: parsed.flags.detach ?? false,
    timeoutMs: parsed.values.timeout === undefined ? null : parseDuration(parsed.values.timeout, "--timeout"),
    retries: retryCount(parsed.values.retries),
    verbose: parsed.flags.verbose ?? false,
    reuse: parsed.flags.reuse ?? false,
  }
}

export const runOptions: OptionSpec[] = [
    entryPointOption,
    { long: "version", short: "v", kind: "value", metavar: "VERSION", description: "Git commit, branch or tag to run" },
    paramOption,
    { long: "docker-args", short: "A", kind: "list", metavar: "NAME[=VALUE]", description: "extra docker run arguments (docker projects)" },
    { long: "experiment-name", kind: "value", metavar: "NAME", env: "MLFLOW_EXPERIMENT_NAME", description: "experiment to record in; created if missing" },
    { long: "experiment-id", kind: "value", metavar: "ID", env: "MLFLOW_EXPERIMENT_ID", description: "experiment id to record in" },
    { long: "backend", short: "b", kind: "value", metavar: "BACKEND", description: "where to run: local (default), kubernetes (a Job on the cluster of your kubeconfig) or databricks (a Jobs run in the workspace of your tracking URI or ~/.databrickscfg); see -c" },
    { long: "backend-config", short: "c", kind: "value", metavar: "FILE|JSON", description: "backend configuration (a .json file or inline JSON); for kubernetes: kube-job-template-path, repository-uri, kube-context, namespace, image-pull-secrets, service-account, pending-timeout; for databricks: new_cluster (or the file as MLflow's cluster spec) or existing_cluster_id, libraries, timeout_seconds, run_name, upload_root, tracking-token-secret, launcher" },
    { long: "env-manager", kind: "value", metavar: "MANAGER", description: "local, virtualenv, uv or conda (default: from the project)" },
    { long: "storage-dir", kind: "value", metavar: "DIR", env: "MLFLOW_TMP_DIR", description: "where remote path parameters are downloaded" },
    { long: "run-id", kind: "value", metavar: "RUN_ID", description: "continue this existing run instead of creating one" },
    { long: "run-name", kind: "value", metavar: "NAME", description: "the run's name (mlflow.runName)" },
    { long: "build-image", kind: "flag", description: "docker projects: build an image with the project copied in" },
    { long: "rebuild-env", kind: "flag", description: "rebuild the python_env/conda environment even if a cached one exists" },
    { long: "no-cache", kind: "flag", description: "download remote path parameters again instead of using the download cache" },
    { long: "fetcher", kind: "value", metavar: "auto|git|tarball", description: "how remote projects are fetched (tarball: GitHub's API, no git needed)" },
    { long: "reuse", kind: "flag", description: "if a FINISHED run of the experiment has the same run key (project content, entry point, parameters, environment), report it instead of running" },
    { long: "dry-run", kind: "flag", description: "resolve everything, print the command, directory and variables; run and record nothing" },
    { long: "grace", kind: "value", metavar: "SECONDS", description: "on interrupt, how long the entry point may take to stop before it is killed (default 10)" },
    { long: "detach", kind: "flag", description: "start the entry point under a supervisor that outlives the terminal; print the run id and return" },
    { long: "timeout", kind: "value", metavar: "DURATION", description: "stop the run after this long (90s, 2h): recorded FAILED, exit 124" },
    { long: "retries", kind: "value", metavar: "N", description: "start a FAILED entry point again, in the same run, up to N times" },
    { long: "verbose", kind: "flag", description: "stream the environment installers' output (pip, uv, conda) instead of a progress line" },
]

export const runCommand: Command = {
  name: "run",
  usage: "mlproject run [URI] [options]",
  summary:
    "Run an entry point of an MLflow project and record the run in the tracking store\n(MLFLOW_TRACKING_URI, else as MLflow >= 3.7: ./mlruns if it holds experiments, else sqlite:///mlflow.db).\nURI is a project folder (default '.'), a Git URL (https://, ssh://,\ngit@host:org/repo, git://, a bare repository) or an archive (.zip, .tar, .tar.gz, .tgz as a path or an\nhttp(s)://, s3://, gs:// or dbfs:/ URL), optionally with #subdir.\nExit codes: 0 finished, 1 the run failed, 2 invalid input, 130 interrupted.",
  maxPositionals: 1,
  options: runOptions,
  async execute(parsed, context) {
    return runProject(toRequest(parsed, context.env), context)
  },
}
