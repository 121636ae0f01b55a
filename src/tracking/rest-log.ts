// Logging into an existing run from outside it (`mlproject log`): the active run and each kind of write.
import { ToolError } from "../errors.ts"
import type { Batch } from "./rest-json.ts"
import { storeFor } from "./store-for.ts"
import type { CallOptions } from "./types.ts"
import { redactUri, resolveTrackingUri } from "./tracking-uri.ts"

type Env = Readonly<Record<string, string | undefined>>

export type LogTarget = { runId: string; trackingUri: string }

export type LogRequest =
  | { kind: "param"; key: string; value: string }
  | { kind: "tag"; key: string; value: string }
  | { kind: "metric"; key: string; value: number; step: number; timestamp: number }
  | { kind: "batch"; batch: Batch }
  | { kind: "artifact"; localPath: string; artifactPath?: string }

export type LogResult = { run_id: string; tracking_uri: string; params: number; metrics: number; tags: number; artifacts: string[] }

/** The run `mlproject run` (or `mlflow run`) hands its entry point: MLFLOW_RUN_ID in MLFLOW_TRACKING_URI (default ./mlruns). */
export const activeRun = (env: Env, cwd: string, runId?: string): LogTarget => {
  const id = (runId ?? env.MLFLOW_RUN_ID)?.trim()
  if (!id)
    throw new ToolError("log.no_run", "no active run to log to: MLFLOW_RUN_ID is not set", {
      hint: "run this inside `mlproject run`, or set MLFLOW_RUN_ID (and MLFLOW_TRACKING_URI) to the run to log to, or pass --run-id",
      exitCode: 2,
    })
  return { runId: id, trackingUri: resolveTrackingUri(env, cwd) }
}

/** Performs one `mlproject log …` write and says what was written; `call.signal` (an interrupt) ends it wherever it waits. */
export const logToRun = async (target: LogTarget, request: LogRequest, env: Env, call: CallOptions = {}): Promise<LogResult> => {
  const store = storeFor(target.trackingUri, env)
  const result: LogResult = { run_id: target.runId, tracking_uri: redactUri(target.trackingUri), params: 0, metrics: 0, tags: 0, artifacts: [] }
  switch (request.kind) {
    case "param":
      await store.logBatch(target.runId, { params: [{ key: request.key, value: request.value }] }, call)
      return { ...result, params: 1 }
    case "tag":
      await store.setTag(target.runId, request.key, request.value, call)
      return { ...result, tags: 1 }
    case "metric":
      await store.logMetric(target.runId, { key: request.key, value: request.value, timestamp: request.timestamp, step: request.step }, call)
      return { ...result, metrics: 1 }
    case "batch": {
      // Split here too, so the file store (which enforces MLflow's per-request limits) takes any size. Loaded here:
      // a one-value `log metric` in a training loop never needs it.
      const { splitBatch } = await import("./rest-batch.ts")
      for (const piece of splitBatch(request.batch)) await store.logBatch(target.runId, piece, call)
      return { ...result, params: request.batch.params.length, metrics: request.batch.metrics.length, tags: request.batch.tags.length }
    }
    case "artifact": {
      const run = await store.getRun(target.runId, call)
      // Loaded here only: the artifact path reaches the storage layer, which `log metric` loops must not load.
      const { logArtifact } = await import("./rest-artifacts.ts")
      const artifacts = await logArtifact({
        trackingUri: target.trackingUri,
        env,
        artifactUri: run.info.artifact_uri,
        localPath: request.localPath,
        artifactPath: request.artifactPath,
        signal: call.signal,
      })
      return { ...result, artifacts }
    }
  }
}
