// conda.yaml → python_env conversion for --env-manager virtualenv: MLflow's rules and error texts.
import { describe, expect, test } from "bun:test"
import { pythonEnvFromConda } from "../../src/env/conda-to-python.ts"
import { envProject } from "../lib/env-project.ts"

const convert = async (yaml: string) => {
  await using p = envProject({ "conda.yaml": yaml })
  return pythonEnvFromConda(p.dir, `${p.dir}/conda.yaml`, "conda.yaml")
}

const failure = async (yaml: string) => {
  try {
    await convert(yaml)
  } catch (error) {
    return error as { code: string; message: string; location?: { line?: number } }
  }
  throw new Error("expected the conversion to fail")
}

describe("conda.yaml as a python_env", () => {
  test("python pin, build packages (= becomes ==), the pip list; other conda packages dropped with MLflow's warning", async () => {
    const { spec, warnings } = await convert(
      "name: demo\nchannels: [conda-forge]\ndependencies:\n  - python=3.10\n  - pip=23.0\n  - setuptools\n  - wheel>=0.40\n  - numpy=1.26\n  - scikit-learn\n  - pip:\n      - mlp_alpha==1.0.0\n      - -r requirements.txt\n",
    )
    expect(spec).toEqual({
      python: "3.10",
      build_dependencies: ["pip==23.0", "setuptools", "wheel>=0.40"],
      dependencies: ["mlp_alpha==1.0.0", "-r requirements.txt"],
    })
    expect(warnings).toEqual([
      { message: "The following conda dependencies will not be installed in the resulting environment: ['numpy=1.26', 'scikit-learn']", line: 4, column: 3 },
    ])
  })

  test.each([
    ["python>=3.8", "3.8"],
    ["python<=3.9.1", "3.9.1"],
    ["python==3.11", "3.11"],
  ])("%s pins python %s", async (dep, version) => {
    expect((await convert(`dependencies:\n  - ${dep}\n`)).spec.python).toBe(version)
  })

  test("no python pin leaves it to the caller (python3 on PATH, with MLflow's warning)", async () => {
    const { spec } = await convert("dependencies:\n  - pip\n")
    expect(spec).toEqual({ build_dependencies: ["pip"], dependencies: [] })
  })

  test("an unpinned python is refused with MLflow's message, located", async () => {
    const error = await failure("dependencies:\n  - numpy\n  - python\n")
    expect(error.code).toBe("conda_env.invalid")
    expect(error.message).toBe("Invalid dependency for python: python. It must be pinned (e.g. python=3.8.13).")
    expect(error.location?.line).toBe(3)
  })

  test.each(["<", ">", "!="])("python%s3.9 is refused: only <=, >=, =, == compare", async (op) => {
    const error = await failure(`dependencies:\n  - python${op}3.9\n`)
    expect(error.message).toBe(`Invalid version comparator for python: '${op}'. Must be one of ['<=', '>=', '=', '=='].`)
  })

  test("a mapping other than {pip: [...]} is refused with MLflow's message", async () => {
    const error = await failure("dependencies:\n  - python=3.10\n  - conda: [numpy]\n")
    expect(error.message).toBe(`Invalid conda dependency: {'conda': ['numpy']}. Must be str or dict in the form of {"pip": [...]}`)
    expect(error.location?.line).toBe(3)
  })
})
