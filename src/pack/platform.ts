// The platforms a pack can target: their names, the one this machine is, and the wheel tags pip may pick for each.
import { ToolError } from "../errors.ts"

export const platforms = ["linux-x64", "linux-arm64", "macos-arm64"] as const
export type Platform = (typeof platforms)[number]

/** This machine's platform name, or null where no pack can be for it (Windows, 32-bit). */
export const currentPlatform = (): Platform | null => {
  if (process.platform === "linux" && process.arch === "x64") return "linux-x64"
  if (process.platform === "linux" && process.arch === "arm64") return "linux-arm64"
  if (process.platform === "darwin" && process.arch === "arm64") return "macos-arm64"
  return null
}

export const parsePlatform = (given: string | undefined): Platform => {
  if (given === undefined) {
    const here = currentPlatform()
    if (here) return here
    throw new ToolError("usage", `this machine (${process.platform}-${process.arch}) is no pack platform: give --platform ${platforms.join("|")}`)
  }
  if ((platforms as readonly string[]).includes(given)) return given as Platform
  throw new ToolError("usage", `--platform ${given}: expected one of ${platforms.join(", ")}`)
}

const manylinux = (arch: string): string[] => [
  ...[39, 38, 35, 34, 31, 28, 27, 26, 24, 17].map((minor) => `manylinux_2_${minor}_${arch}`),
  `manylinux2014_${arch}`,
  ...(arch === "x86_64" ? ["manylinux2010_x86_64", "manylinux1_x86_64"] : []),
  // Wheels built on the machine itself (no auditwheel): what pip installs on this platform too.
  `linux_${arch}`,
]

/**
 * pip's `--platform` values for a target: pip matches them literally once any is given, so every manylinux level
 * (and macOS version) a wheel may carry is listed; pure-Python wheels (`any`) always match.
 */
export const pipPlatformTags = (platform: Platform): string[] => {
  if (platform === "linux-x64") return manylinux("x86_64")
  if (platform === "linux-arm64") return manylinux("aarch64")
  return [15, 14, 13, 12, 11].flatMap((major) => [`macosx_${major}_0_arm64`, `macosx_${major}_0_universal2`])
}
