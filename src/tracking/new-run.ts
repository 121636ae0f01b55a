// What every store does alike when it creates a run: MLflow's run-name rules and the new run's info.
import { ToolError } from "../errors.ts"
import { generateRunId } from "./experiment-id.ts"
import { appendToUriPath } from "./tracking-uri.ts"
import { validateNewParams } from "./key-rules.ts"
import { runNameTag, type NewRun as CreateRun, type RunInfo, type Tag } from "./types.ts"

/** The params a new run is created with, checked as log_batch checks them (there is no batch limit: no API call carries them). */
export const newRunParams = (input: CreateRun): Tag[] => {
  const params = input.params ?? []
  validateNewParams(params)
  return params
}

/** MLflow's create_run: run_name and an mlflow.runName tag must agree; a name given only as the argument becomes the tag. */
export const runNameAndTags = (input: CreateRun): { runName: string; tags: Tag[] } => {
  const tagName = input.tags.find((t) => t.key === runNameTag)?.value
  if (input.run_name && tagName && input.run_name !== tagName)
    throw new ToolError(
      "tracking.run_name.conflict",
      `Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='${input.run_name}', mlflow.runName='${tagName}').`,
      { exitCode: 2 },
    )
  const runName = input.run_name || tagName || ""
  return { runName, tags: !tagName && runName ? [...input.tags, { key: runNameTag, value: runName }] : input.tags }
}

/** A new RUNNING run of the experiment whose artifact location is `artifactLocation`, with a fresh id. */
export const newRunInfo = (input: CreateRun, runName: string, artifactLocation: string): RunInfo => {
  const runId = generateRunId()
  return {
    run_id: runId,
    experiment_id: input.experiment_id,
    run_name: runName,
    user_id: input.user_id,
    status: "RUNNING",
    start_time: input.start_time,
    end_time: null,
    artifact_uri: appendToUriPath(artifactLocation, runId, "artifacts"),
    lifecycle_stage: "active",
  }
}
