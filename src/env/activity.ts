// What an installer is doing, read from one line of its output (pip, uv, conda, pyenv), for the build's progress line.
import { basename } from "node:path"

/** A file or URL as a short name: `numpy-1.26.4-cp311-…whl`, not the folder or index it came from. */
const shortName = (text: string): string => basename(text.replace(/[?#].*$/, "").replace(/\/+$/, ""))

const plural = /^(?:Resolved|Prepared|Installed|Uninstalled|Audited|Built|Downloaded) \d+ packages?\b/

// Ordered: the first pattern that matches a line says what it means.
const patterns: Array<[RegExp, (match: RegExpExecArray) => string]> = [
  // pip
  [/^Collecting (\S+)/, (m) => `collecting ${m[1]}`],
  [/^\s*Downloading (\S+)/, (m) => `downloading ${shortName(m[1] as string)}`],
  [/^Processing (\S+)/, (m) => `processing ${shortName(m[1] as string)}`],
  [/^\s*Building wheel for (\S+)/, (m) => `building ${m[1]}`],
  [/^Installing collected packages: (.+)$/, (m) => `installing ${m[1]}`],
  [/^Successfully installed (.+)$/, (m) => `installed ${m[1]}`],
  // uv
  [plural, (m) => (m[0] as string).toLowerCase()],
  [/^ \+ (\S+)/, (m) => `installed ${m[1]}`],
  [/^Using (CPython|PyPy) (\S+)/, (m) => `using ${m[1]} ${m[2]}`],
  // conda and mamba
  [/^(Collecting package metadata|Solving environment|Downloading and Extracting Packages|Preparing transaction|Verifying transaction|Executing transaction|Installing pip dependencies)/, (m) => (m[1] as string).toLowerCase()],
  // pyenv install
  [/^(Downloading|Installing) (Python-\S+)/, (m) => `${(m[1] as string).toLowerCase()} ${m[2]}`],
]

/** The activity a line reports, or null for a line that reports none (a warning, a blank, a log detail). */
export const installerActivity = (line: string): string | null => {
  for (const [pattern, describe] of patterns) {
    const match = pattern.exec(line)
    if (match) return describe(match).replace(/\.{3}$|:$/, "").trim()
  }
  return null
}
