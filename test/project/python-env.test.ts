// python_env.yaml read and checked as MLflow's _PythonEnv.from_yaml would, with located errors.
import { describe, expect, test } from "bun:test"
import { ToolError } from "../../src/errors.ts"
import { readPythonEnv } from "../../src/project/python-env.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const read = async (text: string) => {
  await using dir = tmpdirFor()
  return readPythonEnv(dir.path, dir.write("python_env.yaml", text))
}

const failure = async (text: string): Promise<ToolError> => {
  try {
    await read(text)
  } catch (error) {
    if (error instanceof ToolError) return error
    throw error
  }
  throw new Error("expected a ToolError")
}

describe("readPythonEnv", () => {
  test("a complete file", async () => {
    expect(await read('python: "3.10"\nbuild_dependencies: [pip, setuptools]\ndependencies:\n  - numpy==1.26\n  - -r requirements.txt\n')).toEqual({
      python: "3.10",
      build_dependencies: ["pip", "setuptools"],
      dependencies: ["numpy==1.26", "-r requirements.txt"],
    })
  })

  test("everything is optional; null and empty values mean absent", async () => {
    expect(await read("dependencies: ~\npython:\n")).toEqual({ build_dependencies: [], dependencies: [] })
    expect(await read("python: 3.8.15\n")).toEqual({ python: "3.8.15", build_dependencies: [], dependencies: [] })
  })

  const cases: Array<[string, string, number, number, string]> = [
    ["python: 3.10\n", "'python' must be a string, but it is the float 3.1", 1, 9, 'quote the version: python: "3.10"'],
    ["python: 3\n", "'python' must be a string, but it is the integer 3", 1, 9, 'quote the version: python: "3"'],
    ["python: '3.9'\ndependencies: numpy\n", "'dependencies' must be a list of requirement strings, but it is the string 'numpy'", 2, 15, "write dependencies: [package==version, …]"],
    ["dependencies:\n  - numpy\n  - 1.5\n", "each entry of 'dependencies' must be a string, but one is the float 1.5", 3, 5, 'quote it: - "1.5"'],
    ["python: '3.9'\npip: [x]\n", "unknown key 'pip' in python_env.yaml: MLflow accepts only python, build_dependencies and dependencies", 2, 1, "remove it: python_env.yaml takes python, build_dependencies and dependencies"],
    ["", "python_env.yaml is empty", 1, 1, 'write at least: python: "3.11"'],
    ["- numpy\n", "python_env.yaml must be a mapping with python, build_dependencies and dependencies; it is a list", 1, 1, ""],
    ["python: [3.9\n", "", 1, 1, ""],
    [
      "dependencies:\n  - numpy\n  - mlflow == 2..7.1\n",
      "'mlflow == 2..7.1' in 'dependencies' is not a requirement pip accepts: '2..7.1' is not a valid version (PEP 440: e.g. 1.4, 2.0.1, 1.0rc1, 1.0.post2)",
      3,
      5,
      "write it as PEP 508 says, e.g. mlflow==2.7.1 or numpy>=1.24,<2",
    ],
    ["build_dependencies: ['pip>=']\n", "'pip>=' in 'build_dependencies' is not a requirement pip accepts: '>=' is not followed by a version", 1, 22, "write it as PEP 508 says, e.g. mlflow==2.7.1 or numpy>=1.24,<2"],
  ]
  for (const [text, message, line, column, hint] of cases) {
    test(`${JSON.stringify(text)}: ${message || "YAML syntax error"}`, async () => {
      const error = await failure(text)
      expect(error.code).toBe("python_env.invalid")
      if (message) expect(error.message).toBe(message)
      expect(error.location?.file).toEndWith("/python_env.yaml")
      expect(error.location?.line).toBeGreaterThanOrEqual(line)
      if (message) expect(error.location).toEqual({ file: expect.stringMatching(/\/python_env\.yaml$/), line, column })
      if (hint) expect(error.hint).toBe(hint)
    })
  }

  test("a missing file", async () => {
    await using dir = tmpdirFor()
    expect(() => readPythonEnv(dir.path, `${dir.path}/python_env.yaml`)).toThrow(/^python_env.yaml does not exist$/)
  })
})
