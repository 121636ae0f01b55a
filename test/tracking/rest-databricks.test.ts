// Databricks tracking URIs: host and token from the environment or ~/.databrickscfg, the REST calls, and the child's variables.
import { describe, expect, test } from "bun:test"
import { isToolError } from "../../src/errors.ts"
import { childTrackingVariables, databricksCreds } from "../../src/tracking/databricks-config.ts"
import { storeFor } from "../../src/tracking/store-for.ts"
import { mlflowServer } from "../lib/mlflow-server.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const fast = { MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: "0", MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: "0", MLFLOW_HTTP_REQUEST_TIMEOUT: "2" }

const refusal = (fn: () => unknown) => {
  try {
    fn()
  } catch (error) {
    if (isToolError(error)) return error
    throw error
  }
  throw new Error("expected a refusal")
}

describe("databricks tracking URIs", () => {
  test("`databricks` talks to DATABRICKS_HOST with DATABRICKS_TOKEN as a bearer token", async () => {
    await using home = tmpdirFor()
    await using server = mlflowServer({ auth: "Bearer dapi-env" })
    const store = storeFor("databricks", { ...fast, HOME: home.path, DATABRICKS_HOST: server.url, DATABRICKS_TOKEN: "dapi-env" })
    const { experiment_id } = await store.getOrCreateExperiment("/Users/ada@example.com/exp")
    const info = await store.createRun({ experiment_id, user_id: "ada", start_time: 1, run_name: "r", tags: [] })
    expect((await store.getRun(info.run_id)).info.experiment_id).toBe(experiment_id)
    expect(store.location).toBe(server.url)
    expect(server.requests.every((r) => r.path.startsWith("/api/2.0/mlflow/"))).toBe(true)
  })

  test("`databricks://<profile>` reads only that profile of ~/.databrickscfg", async () => {
    await using home = tmpdirFor()
    await using server = mlflowServer({ auth: "Bearer dapi-staging" })
    home.write(".databrickscfg", `[DEFAULT]\nhost = https://default.invalid\ntoken = dapi-default\n\n[staging]\nhost = ${server.url}/\ntoken = dapi-staging\n`)
    // Variables in the environment do not override a profile named in the URI.
    const env = { ...fast, HOME: home.path, DATABRICKS_HOST: "https://env.invalid", DATABRICKS_TOKEN: "dapi-env" }
    expect(await storeFor("databricks://staging", env).getExperiment("0")).toMatchObject({ name: "Default" })
    expect(databricksCreds("databricks://staging", env)).toEqual({ host: server.url, token: "dapi-staging", insecure: false })
  })

  test("plain `databricks` falls back to DATABRICKS_CONFIG_PROFILE (else DEFAULT) in DATABRICKS_CONFIG_FILE (else ~/.databrickscfg)", async () => {
    await using home = tmpdirFor()
    home.write(".databrickscfg", "[DEFAULT]\nhost = adb-1.azuredatabricks.net\ntoken = dapi-default\n[dev]\nhost = https://dev.cloud.databricks.com\nusername = ada\npassword = pw\ninsecure = true\n")
    const custom = home.write("other.cfg", "[DEFAULT]\nhost = https://other.cloud.databricks.com\ntoken = dapi-other\n")
    expect(databricksCreds("databricks", { HOME: home.path })).toEqual({ host: "https://adb-1.azuredatabricks.net", token: "dapi-default", insecure: false })
    expect(databricksCreds("databricks", { HOME: home.path, DATABRICKS_CONFIG_PROFILE: "dev" })).toEqual({
      host: "https://dev.cloud.databricks.com",
      username: "ada",
      password: "pw",
      insecure: true,
    })
    expect(databricksCreds("databricks", { HOME: home.path, DATABRICKS_CONFIG_FILE: custom }).token).toBe("dapi-other")
    // A host without a token is not a usable environment: the profile is used instead.
    expect(databricksCreds("databricks", { HOME: home.path, DATABRICKS_HOST: "https://half.invalid" }).token).toBe("dapi-default")
  })

  test("missing credentials say where to put them", async () => {
    await using home = tmpdirFor()
    const none = refusal(() => storeFor("databricks", { HOME: home.path }))
    expect(none.code).toBe("tracking.databricks.credentials")
    expect(none.hint).toContain("DATABRICKS_HOST and DATABRICKS_TOKEN")
    home.write(".databrickscfg", "[prod]\nhost = https://prod.invalid\n")
    const profile = refusal(() => storeFor("databricks://prod", { HOME: home.path }))
    expect(profile.message).toContain("profile [prod]")
    expect(profile.hint).toContain("token = ")
    expect(refusal(() => storeFor("databricks://scope:prefix", { HOME: home.path })).code).toBe("tracking.databricks.unsupported")
  })

  test("a refused token names the Databricks variables", async () => {
    await using home = tmpdirFor()
    await using server = mlflowServer({ auth: "Bearer right" })
    try {
      await storeFor("databricks", { ...fast, HOME: home.path, DATABRICKS_HOST: server.url, DATABRICKS_TOKEN: "dapi-wrong" }).getExperiment("0")
      throw new Error("expected a refusal")
    } catch (error) {
      if (!isToolError(error)) throw error
      expect(error.code).toBe("tracking.auth")
      expect(error.message).toContain(`Databricks workspace ${server.url}`)
      expect(error.message).not.toContain("dapi-wrong")
      expect(error.hint).toContain("DATABRICKS_TOKEN")
    }
  })

  test("the child gets MLFLOW_TRACKING_URI=databricks plus the resolved host and credentials, as MLflow gives them", async () => {
    await using home = tmpdirFor()
    home.write(".databrickscfg", "[staging]\nhost = https://staging.cloud.databricks.com\ntoken = dapi-staging\ninsecure = True\n")
    expect(childTrackingVariables("databricks://staging", { HOME: home.path })).toEqual({
      MLFLOW_TRACKING_URI: "databricks",
      DATABRICKS_HOST: "https://staging.cloud.databricks.com",
      DATABRICKS_TOKEN: "dapi-staging",
      DATABRICKS_INSECURE: "true",
    })
    expect(childTrackingVariables("databricks", { HOME: home.path, DATABRICKS_HOST: "h.example", DATABRICKS_USERNAME: "u", DATABRICKS_PASSWORD: "p" })).toEqual({
      MLFLOW_TRACKING_URI: "databricks",
      DATABRICKS_HOST: "https://h.example",
      DATABRICKS_USERNAME: "u",
      DATABRICKS_PASSWORD: "p",
    })
    expect(childTrackingVariables("http://tracking:5000", {})).toEqual({ MLFLOW_TRACKING_URI: "http://tracking:5000" })
    expect(childTrackingVariables("file:///tmp/mlruns", {})).toEqual({ MLFLOW_TRACKING_URI: "file:///tmp/mlruns" })
  })
})
