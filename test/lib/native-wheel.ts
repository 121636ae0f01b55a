// A wheel with a compiled extension module for this machine, built in the test with gcc against a pyenv Python's headers.
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const source = `#include <Python.h>
static PyObject *add(PyObject *self, PyObject *args) {
  long a, b;
  if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
  return PyLong_FromLong(a + b);
}
static PyMethodDef methods[] = {{"add", add, METH_VARARGS, "a + b, in C"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "mlp_native", NULL, -1, methods};
PyMODINIT_FUNC PyInit_mlp_native(void) { return PyModule_Create(&module); }
`

// Packs the module with METADATA, WHEEL (not purelib, this Python's tag) and RECORD, as PEP 427 says; zipfile is stdlib.
const zipScript = `
import base64, hashlib, sys, zipfile
so, out, tag = sys.argv[1:4]
name, version = "mlp_native", "1.0.0"
info = f"{name}-{version}.dist-info"
files = {
    so.rsplit("/", 1)[1]: open(so, "rb").read(),
    f"{info}/METADATA": f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n".encode(),
    f"{info}/WHEEL": f"Wheel-Version: 1.0\\nGenerator: mlproject-tests\\nRoot-Is-Purelib: false\\nTag: {tag}\\n".encode(),
}
record = [f"{p},sha256={base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b'=').decode()},{len(b)}" for p, b in files.items()]
files[f"{info}/RECORD"] = ("\\n".join(record + [f"{info}/RECORD,,"]) + "\\n").encode()
with zipfile.ZipFile(out, "w") as z:
    for p, b in files.items():
        z.writestr(p, b)
`

const run = async (argv: string[]) => {
  const child = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe" })
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited])
  if (code !== 0) throw new Error(`${argv[0]} failed: ${stderr}`)
  return stdout.trim()
}

/** Builds `mlp_native-1.0.0-cpXY-cpXY-linux_<arch>.whl` into `dir` for `python`; returns the wheel's path. */
export const nativeWheel = async (python: string, dir: string): Promise<string> => {
  const [include, suffix, tag] = (
    await run([python, "-c", "import sysconfig, sys; v = '%d%d' % sys.version_info[:2]; import platform; print(sysconfig.get_paths()['include']); print(sysconfig.get_config_var('EXT_SUFFIX')); print(f'cp{v}-cp{v}-linux_{platform.machine()}')"])
  ).split("\n")
  const build = join(dir, ".native-build")
  mkdirSync(build, { recursive: true })
  writeFileSync(join(build, "mlp_native.c"), source)
  const so = join(build, `mlp_native${suffix}`)
  await run(["gcc", "-shared", "-fPIC", "-O1", `-I${include}`, "-o", so, join(build, "mlp_native.c")])
  const wheel = join(dir, `mlp_native-1.0.0-${tag}.whl`)
  writeFileSync(join(build, "zip.py"), zipScript)
  await run([python, join(build, "zip.py"), so, wheel, tag as string])
  return wheel
}
