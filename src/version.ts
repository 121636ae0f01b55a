// The version string, injected by scripts/build.ts; "dev" when running from source.
declare const MLPROJECT_VERSION: string | undefined

export const version: string = typeof MLPROJECT_VERSION === "string" ? MLPROJECT_VERSION : "0.0.0-dev"
