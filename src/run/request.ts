// What `mlproject run` was asked to do, as plain data: the only shape the CLI hands to the run core.

export type RunRequest = {
  uri: string
  entryPoint: string
  version?: string
  params: Array<[string, string]>
  dockerArgs: Array<[string, string]>
  experimentName?: string
  experimentId?: string
  backend: string
  backendConfig?: string
  envManager?: string
  storageDir?: string
  runId?: string
  runName?: string
  buildImage: boolean
  dryRun: boolean
  /** Rebuild the python_env/conda environment even when a cached one exists. */
  rebuildEnv: boolean
  /** Download remote path parameters again instead of reusing the download cache. */
  noCache: boolean
  /** How a remote project is fetched: git when installed, else the GitHub tarball API. */
  fetcher: "auto" | "git" | "tarball"
  /** How long an interrupted entry point may take to stop before it is killed. */
  graceMs: number
  /** Start the entry point under a supervisor that outlives this process, and return at once. */
  detach: boolean
  /** Stop the run like an interrupt after this long (FAILED, exit 124); null: no limit. */
  timeoutMs: number | null
  /** Start a FAILED entry point again, in the same run, up to this many times. */
  retries: number
  /** Stream the environment installers' output as `log` events (else it goes to the environment's log file only). */
  verbose: boolean
  /** Answer with a FINISHED run of the experiment that has the same run key (src/run/run-key.ts) instead of running. */
  reuse: boolean
}
