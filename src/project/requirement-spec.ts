// Checks a python_env dependency line the way pip (packaging) parses it: PEP 508 requirements with PEP 440 versions.

// packaging's VERSION_PATTERN (PEP 440, with its accepted spellings), anchored.
const release = String.raw`[0-9]+(?:\.[0-9]+)*`
const pre = String.raw`(?:[-_.]?(?:alpha|a|beta|b|preview|pre|c|rc)[-_.]?[0-9]*)?`
const post = String.raw`(?:-[0-9]+|[-_.]?(?:post|rev|r)[-_.]?[0-9]*)?`
const dev = String.raw`(?:[-_.]?dev[-_.]?[0-9]*)?`
const local = String.raw`(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?`
const publicVersion = String.raw`v?(?:[0-9]+!)?${release}${pre}${post}${dev}`
const versionWithLocal = new RegExp(`^${publicVersion}${local}$`, "i")
const versionPublic = new RegExp(`^${publicVersion}$`, "i")
// `==1.2.*` and `!=1.2.*`: a release prefix, no local part.
const wildcard = new RegExp(String.raw`^v?(?:[0-9]+!)?${release}\.\*$`, "i")

const namePattern = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?/
const identifier = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/
const operators = ["===", "~=", "==", "!=", "<=", ">=", "<", ">"]

/** Why one `OP VERSION` clause is refused, or null. */
const clauseProblem = (clause: string): string | null => {
  const text = clause.trim()
  const op = operators.find((o) => text.startsWith(o))
  if (!op) return `'${text}' has no comparison operator (one of ${operators.join(", ")})`
  const version = text.slice(op.length).trim()
  if (version === "") return `'${op}' is not followed by a version`
  if (op === "===") return /^[^\s;,)]+$/.test(version) ? null : `'${version}' is not a version`
  const invalid = `'${version}' is not a valid version (PEP 440: e.g. 1.4, 2.0.1, 1.0rc1, 1.0.post2)`
  if (op === "==" || op === "!=") return versionWithLocal.test(version) || wildcard.test(version) ? null : invalid
  if (wildcard.test(version)) return `'${op}' does not take a .* wildcard ('${version}')`
  if (versionWithLocal.test(version) && !versionPublic.test(version)) return `'${op}' does not take a local version ('${version}')`
  if (!versionPublic.test(version)) return invalid
  if (op === "~=" && !/^v?(?:[0-9]+!)?[0-9]+\.[0-9]/i.test(version)) return `'~=${version}' needs at least two release numbers (e.g. ~=1.4)`
  return null
}

/** Lines pip does not read as a requirement: options, URLs, paths, archives, variables. */
const notARequirement = (line: string): boolean =>
  line.startsWith("-") ||
  /^[a-z][a-z0-9+.-]*:\/\//i.test(line) ||
  line.startsWith(".") ||
  line.startsWith("~") ||
  line.includes("${") ||
  /\.(whl|zip|tar\.gz|tgz|tar\.bz2|tar)$/i.test(line.split(/[;\s]/)[0] ?? "") ||
  (/[/\\]/.test(line.split(/[;@\s[(]/)[0] ?? ""))

/**
 * Why pip would refuse this dependency line (PEP 508 name, extras, version clauses; markers only when empty), or
 * null when it parses or is not a requirement at all (an option, a URL, a path).
 */
export const requirementProblem = (raw: string): string | null => {
  // pip drops comments and per-requirement options (--hash=…) before parsing the requirement.
  const line = raw.replace(/(^|\s)#.*$/, "").replace(/\s--\S.*$/, "").trim()
  if (line === "" || notARequirement(line)) return null
  const [body = "", ...rest] = line.split(";")
  if (rest.length > 0 && rest.join(";").trim() === "") return "the ';' is not followed by an environment marker"
  const name = namePattern.exec(body.trim())?.[0]
  if (!name) return "it does not start with a package name"
  let tail = body.trim().slice(name.length).trim()
  if (tail.startsWith("[")) {
    const close = tail.indexOf("]")
    if (close < 0) return "the extras list ('[') is not closed"
    const extras = tail.slice(1, close).split(",").map((x) => x.trim())
    if (!(extras.length === 1 && extras[0] === "") && !extras.every((x) => identifier.test(x))) return "the extras list holds a name that is not valid"
    tail = tail.slice(close + 1).trim()
  }
  if (tail === "") return null
  if (tail.startsWith("@")) return tail.slice(1).trim() === "" ? "'@' is not followed by a URL" : null
  if (tail.startsWith("(")) {
    if (!tail.endsWith(")")) return "the version list in '(' is not closed"
    tail = tail.slice(1, -1)
  }
  // packaging accepts one trailing comma after the last clause.
  const clauses = tail.split(",")
  if (clauses.length > 1 && clauses.at(-1)?.trim() === "") clauses.pop()
  for (const clause of clauses) {
    const problem = clauseProblem(clause)
    if (problem) return problem
  }
  return null
}
