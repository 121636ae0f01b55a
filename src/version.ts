// The version string, injected by scripts/build.ts; "dev" when running from source.
declare const MLPROJECT_VERSION: string | undefined
declare const MLPROJECT_BUILD_ID: string | undefined

export const version: string = typeof MLPROJECT_VERSION === "string" ? MLPROJECT_VERSION : "0.0.0-dev"

/** A digest of the sources the binary was built from; null when running from source. */
export const buildId: string | null = typeof MLPROJECT_BUILD_ID === "string" ? MLPROJECT_BUILD_ID : null
