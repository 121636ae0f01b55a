# mlproject's Databricks launcher: unpacks the project on the driver and runs its entry point into the run created by the client.
# It is a spark_python_task: Python is all a Databricks driver is sure to have. It needs nothing beyond the standard library.
import argparse
import base64
import hashlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
import urllib.request


def fail(message, code=2):
    print("mlproject launcher: error: " + message, file=sys.stderr, flush=True)
    sys.exit(code)


def local_path(uri):
    """Where a dbfs:/ or /Volumes/ path is mounted on the driver (the FUSE mounts /dbfs and /Volumes)."""
    if uri.startswith("dbfs:"):
        return os.path.join(os.environ.get("MLPROJECT_DBFS_FUSE", "/dbfs"), uri[len("dbfs:"):].lstrip("/"))
    if uri.startswith("/Volumes/"):
        return os.path.join(os.environ.get("MLPROJECT_VOLUMES_FUSE", "/Volumes"), uri[len("/Volumes/"):])
    return uri


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified(uri, expected):
    path = local_path(uri)
    if not os.path.isfile(path):
        fail("%s is not there (looked at %s on the driver)" % (uri, path))
    actual = sha256_of(path)
    if actual != expected:
        fail("%s has sha256 %s, expected %s: it changed after the upload" % (uri, actual, expected))
    return path


def work_dir():
    base = os.environ.get("MLPROJECT_WORK_DIR")
    if not base:
        base = "/local_disk0/tmp/mlproject" if os.path.isdir("/local_disk0") else os.path.join(tempfile.gettempdir(), "mlproject")
    os.makedirs(base, exist_ok=True)
    return base


def safe_members(tar, target):
    """Every entry stays inside the target: no absolute names, no '..', no links pointing out, no devices."""
    root = os.path.realpath(target)
    for member in tar.getmembers():
        name = os.path.realpath(os.path.join(root, member.name))
        if not (name == root or name.startswith(root + os.sep)):
            fail("the project archive holds an entry outside its folder: %r" % member.name)
        if member.issym() or member.islnk():
            link = os.path.realpath(os.path.join(os.path.dirname(name), member.linkname)) if member.issym() else os.path.realpath(os.path.join(root, member.linkname))
            if not (link == root or link.startswith(root + os.sep)):
                fail("the project archive holds a link pointing outside its folder: %r -> %r" % (member.name, member.linkname))
        if member.isdev() or member.isfifo():
            fail("the project archive holds a device or fifo: %r" % member.name)
        yield member


def unpack(archive, digest, base):
    """The project, unpacked once per archive digest on this driver (a second run of the same project reuses it)."""
    projects = os.path.join(base, "projects")
    target = os.path.join(projects, digest)
    if os.path.isdir(target):
        return target
    os.makedirs(projects, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".unpack-", dir=projects)
    with tarfile.open(archive, "r:gz") as tar:
        members = list(safe_members(tar, staging))
        if hasattr(tarfile, "data_filter"):
            tar.extractall(staging, members=members, filter="data")
        else:
            tar.extractall(staging, members=members)
    try:
        os.rename(os.path.join(staging, "mlflow-project"), target)
    except OSError:
        if not os.path.isdir(target):
            raise
    shutil.rmtree(staging, ignore_errors=True)
    return target


def machine_arch():
    machine = platform.machine().lower()
    return {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)


def binary_for(binaries, base):
    arch = machine_arch()
    entry = binaries.get(arch)
    if entry is None:
        fail("no mlproject binary for this driver's architecture (%s); uploaded: %s (set \"launcher\": \"mlflow\" or build it: bun run build:all)" % (arch, ", ".join(sorted(binaries)) or "none"))
    uri, digest = entry
    source = verified(uri, digest)
    folder = os.path.join(base, "bin", digest)
    binary = os.path.join(folder, "mlproject")
    if not os.path.isfile(binary):
        os.makedirs(folder, exist_ok=True)
        staging = binary + ".%d" % os.getpid()
        shutil.copyfile(source, staging)
        os.chmod(staging, 0o755)
        os.replace(staging, binary)
    return binary


def runtime_credentials():
    """The workspace host and token of this driver, as MLflow's own Databricks utilities find them."""
    try:
        from dbruntime.databricks_repl_context import get_context  # present on every Databricks runtime

        context = get_context()
        if context is not None and getattr(context, "apiUrl", None) and getattr(context, "apiToken", None):
            return context.apiUrl.rstrip("/"), context.apiToken
    except Exception:
        pass
    host, token = os.environ.get("DATABRICKS_HOST"), os.environ.get("DATABRICKS_TOKEN")
    if host and token:
        return host.rstrip("/"), token
    return None


def read_secret(reference):
    scope, key = reference.split("/", 1)
    credentials = runtime_credentials()
    if credentials is None:
        fail("cannot read the secret %s: this driver offers no workspace credentials" % reference)
    host, token = credentials
    query = urllib.parse.urlencode({"scope": scope, "key": key})
    request = urllib.request.Request(host + "/api/2.0/secrets/get?" + query, headers={"Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            body = json.loads(response.read().decode("utf-8"))
    except Exception as error:  # the secret's value never appears: only its name and the reason
        fail("cannot read the secret %s (tracking-token-secret): %s" % (reference, getattr(error, "code", None) or error))
    return base64.b64decode(body["value"]).decode("utf-8")


def tracking_variables(uri, token_secret):
    variables = {"MLFLOW_TRACKING_URI": uri}
    if uri == "databricks":
        credentials = runtime_credentials()
        if credentials is None:
            fail("the tracking URI is 'databricks' but this driver offers no workspace credentials")
        variables["DATABRICKS_HOST"], variables["DATABRICKS_TOKEN"] = credentials
    if token_secret:
        variables["MLFLOW_TRACKING_TOKEN"] = read_secret(token_secret)
    return variables


def main():
    parser = argparse.ArgumentParser(prog="mlproject-launcher")
    parser.add_argument("--archive", required=True)
    parser.add_argument("--archive-sha256", required=True)
    parser.add_argument("--binary", action="append", default=[], help="ARCH=URI=SHA256")
    parser.add_argument("--launcher", choices=["binary", "mlflow"], required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--experiment-id", required=True)
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--tracking-token-secret")
    parser.add_argument("--entry-point", required=True)
    parser.add_argument("--env-manager")
    parser.add_argument("-P", dest="params", action="append", default=[])
    args = parser.parse_args()

    base = work_dir()
    project = unpack(verified(args.archive, args.archive_sha256), args.archive_sha256, base)
    env = dict(os.environ)
    env.update(tracking_variables(args.tracking_uri, args.tracking_token_secret))
    env["MLFLOW_EXPERIMENT_ID"] = args.experiment_id
    env.setdefault("MLPROJECT_HOME", os.path.join(base, "home"))
    options = ["--run-id", args.run_id, "-e", args.entry_point]
    if args.env_manager:
        options += ["--env-manager", args.env_manager]
    for param in args.params:
        options += ["-P", param]
    if args.launcher == "binary":
        binaries = {}
        for entry in args.binary:
            arch, uri, digest = entry.split("=", 2)
            binaries[arch] = (uri, digest)
        command = [binary_for(binaries, base), "run", project] + options
    else:
        mlflow = shutil.which("mlflow") or os.path.join(os.environ.get("DB_HOME", "/databricks"), "python", "bin", "mlflow")
        command = [mlflow, "run", project] + options
    print("mlproject launcher: %s run %s -e %s (%s)" % (args.launcher, args.run_id, args.entry_point, platform.machine()), flush=True)
    child = subprocess.Popen(command, env=env)

    def forward(signum, _frame):
        child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = child.wait()
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
