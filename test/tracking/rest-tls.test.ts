// The REST store over https: a private CA (MLFLOW_TRACKING_SERVER_CERT_PATH), no verification, and client certificates.
import { describe, expect, test } from "bun:test"
import { isToolError } from "../../src/errors.ts"
import { storeFor } from "../../src/tracking/store-for.ts"
import { mlflowServer } from "../lib/mlflow-server.ts"
import { tlsCerts } from "../lib/tls-certs.ts"

const once = { MLFLOW_HTTP_REQUEST_MAX_RETRIES: "0", MLFLOW_HTTP_REQUEST_TIMEOUT: "5" }

const refusal = async (promise: Promise<unknown>) => {
  try {
    await promise
  } catch (error) {
    if (isToolError(error)) return error
    throw error
  }
  throw new Error("expected a refusal")
}

describe("REST store over TLS", () => {
  test("verifies the server against MLFLOW_TRACKING_SERVER_CERT_PATH, or not at all with MLFLOW_TRACKING_INSECURE_TLS", async () => {
    await using certs = tlsCerts()
    await using server = mlflowServer({ tls: certs.server })
    expect(await storeFor(server.url, { ...once, MLFLOW_TRACKING_SERVER_CERT_PATH: certs.caPath }).getExperiment("0")).toMatchObject({ name: "Default" })
    expect(await storeFor(server.url, { ...once, MLFLOW_TRACKING_INSECURE_TLS: "true" }).getExperiment("0")).toMatchObject({ name: "Default" })
    const untrusted = await refusal(storeFor(server.url, once).getExperiment("0"))
    expect(untrusted.code).toBe("tracking.unreachable")
    expect(untrusted.message.toLowerCase()).toMatch(/certificate|self.signed|verify/)
  })

  test("presents MLFLOW_TRACKING_CLIENT_CERT_PATH (certificate and key in one PEM) to a server that demands one", async () => {
    await using certs = tlsCerts()
    await using server = mlflowServer({ tls: { ...certs.server, ca: certs.ca, requestCert: true } })
    const trusted = { ...once, MLFLOW_TRACKING_SERVER_CERT_PATH: certs.caPath }
    const withCert = storeFor(server.url, { ...trusted, MLFLOW_TRACKING_CLIENT_CERT_PATH: certs.clientPemPath })
    expect(await withCert.getExperiment("0")).toMatchObject({ name: "Default" })
    expect((await refusal(storeFor(server.url, trusted).getExperiment("0"))).code).toBe("tracking.unreachable")
  })
})
