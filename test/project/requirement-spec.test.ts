// python_env dependency lines checked as pip (packaging, PEP 508 and PEP 440) parses them.
import { describe, expect, test } from "bun:test"
import { requirementProblem } from "../../src/project/requirement-spec.ts"

// What `packaging.requirements.Requirement` 24.1 (pip 24.2's parser; checked with it) accepts, or what pip reads as
// something other than a requirement. pip before 24.1 still took legacy versions such as 2..7.1, then found no
// distribution for them: either way the build fails after the run exists.
const accepted = [
  "numpy",
  "numpy==1.26.4",
  "numpy == 1.26.4",
  "scikit-learn>=1.3,<2",
  "scikit-learn >= 1.3 , < 2",
  "Django[bcrypt,argon2]>=4.2",
  "pkg[]",
  "pkg (>=1.0)",
  "torch==2.1.0+cu118",
  "pkg==1.*",
  "pkg!=1.2.*",
  "pkg~=1.4",
  "pkg~=1.4.2rc1",
  "pkg===weird-version",
  "pkg==1.0rc1",
  "pkg==1.0.post2.dev3",
  "pkg==v1.0",
  "pkg==1!2.0",
  "pkg>=1.0a1",
  'pkg; python_version < "3.10"',
  'pkg==1.0 ; sys_platform == "linux"',
  "pkg @ https://example.invalid/pkg-1.0.whl",
  "pkg>=1.0,<2,",
  "pkg (>=1.0,)",
  "pkg [a]",
  "Pkg.Name_x-y==1",
  "pkg==1.0 --hash=sha256:00ff",
  "pkg==1.0  # pinned",
  "-r requirements.txt",
  "-e .",
  "--index-url https://example.invalid/simple",
  "git+https://github.com/org/repo.git#egg=repo",
  "./local/pkg",
  "../pkg",
  "/abs/wheels/pkg-1.0-py3-none-any.whl",
  "pkg-1.0.tar.gz",
  "dir/subpkg",
  "${PKG_SPEC}",
]

const refused: Array<[string, string]> = [
  ["mlflow == 2..7.1", "'2..7.1' is not a valid version"],
  ["mlflow==2.7.1.", "'2.7.1.' is not a valid version"],
  ["pkg>=", "'>=' is not followed by a version"],
  ["pkg=1.0", "has no comparison operator"],
  ["pkg==1.0,,", "has no comparison operator"],
  ["pkg,==1.0", "has no comparison operator"],
  ["pkg[a,]", "the extras list holds a name that is not valid"],
  ["pkg>=1.*", "does not take a .* wildcard"],
  ["pkg<=1.0+local", "does not take a local version"],
  ["pkg~=1", "needs at least two release numbers"],
  ["pkg==1.*.2", "is not a valid version"],
  ["pandas[excel", "the extras list ('[') is not closed"],
  ["pandas[ex cel]", "the extras list holds a name that is not valid"],
  ["pkg (>=1.0", "the version list in '(' is not closed"],
  ["pkg @", "'@' is not followed by a URL"],
  ["pkg ;", "the ';' is not followed by an environment marker"],
  ["_private", "it does not start with a package name"],
  ["pkg==1.0-SNAPSHOT", "is not a valid version"],
]

describe("requirement lines pip accepts, or reads as something else", () => {
  for (const line of accepted) test(line, () => expect(requirementProblem(line)).toBeNull())
})

describe("requirement lines pip refuses", () => {
  for (const [line, reason] of refused) test(`${line}: ${reason}`, () => expect(requirementProblem(line)).toContain(reason))
})
