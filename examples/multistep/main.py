"""The workflow's driver (entry point main): runs load, etl and train in turn, each through
`mlproject run . -e STEP --json --reuse`, and hands each step's artifact file to the next as its `path` parameter.

Like `_get_or_run` in MLflow's examples/multistep_workflow/main.py, but the lookup is mlproject's: `--reuse` answers
with an earlier FINISHED run of the same run key (project content, entry point, parameters, a `path` by the content
of its file) instead of running the step again. So a second `main` with the same parameters reuses all three steps,
and `-P alpha=0.2` runs only train. The main run itself always runs; it tags itself with each step's run id
(step.load, step.etl, step.train) and copies train's rmse and r2. Standard library only.
"""
import argparse
import json
import os
import subprocess
import sys
from urllib.parse import unquote, urlparse

MLPROJECT = os.environ.get("MLPROJECT_BIN", "mlproject")
IN_RUN = bool(os.environ.get("MLFLOW_RUN_ID"))
# Steps go where this run is recorded: mlproject hands us MLFLOW_EXPERIMENT_ID, and an MLFLOW_EXPERIMENT_NAME
# inherited from the caller's shell would make the step's `mlproject run` refuse both ("Specify only one of ...").
STEP_ENV = {k: v for k, v in os.environ.items() if not (k == "MLFLOW_EXPERIMENT_NAME" and os.environ.get("MLFLOW_EXPERIMENT_ID"))}


class Failed(Exception):
    """The workflow cannot go on: the message names the step and its run."""


def say(text, err=False):
    print(text, file=sys.stderr if err else sys.stdout, flush=True)


def log(*args, stdin=None):
    """`mlproject log ...` on this (the main) run; nothing when main.py runs outside mlproject."""
    if not IN_RUN:
        return
    done = subprocess.run([MLPROJECT, "log", *args], input=stdin, text=True, stdout=subprocess.DEVNULL)
    if done.returncode != 0:
        raise Failed(f"mlproject log {args[0]} on run {os.environ['MLFLOW_RUN_ID']} failed (exit {done.returncode})")


def run_step(step, params):
    """Runs (or reuses) one step and tags this run with its run id; returns (run_id, reused).

    The step's own output arrives as `log` events and is printed with a [step] prefix as it comes.
    """
    argv = [MLPROJECT, "run", ".", "-e", step, "--json", "--reuse", "--env-manager", "local"]
    for name, value in params.items():
        argv += ["-P", f"{name}={value}"]
    run_id, reused, status, exit_code, errors = None, False, None, None, []
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=STEP_ENV) as child:
        for line in child.stdout:
            event = json.loads(line)
            kind = event.get("type")
            if kind == "log":
                say(f"[{step}] {event.get('line', '')}", err=event.get("stream") == "stderr")
            elif kind == "run.reused":
                run_id, reused = event["run_id"], True
            elif kind in ("run.created", "run.finished"):
                run_id = event["run_id"]
                status = event.get("status", status)
                exit_code = event.get("exit_code", exit_code)
            elif kind in ("warning", "error"):
                say(f"[{step}] {kind}: {event.get('message', '')}", err=True)
                if kind == "error":
                    errors.append(event.get("message", ""))
    if run_id:
        log("tag", f"step.{step}", run_id)
    if child.returncode == 0 and run_id and (reused or status == "FINISHED"):
        return run_id, reused
    if not run_id:
        raise Failed(f"step '{step}' failed: no run was created (mlproject exited {child.returncode})" + "".join(f"\n  {e}" for e in errors))
    ended = f"{status} (exit code {exit_code})" if exit_code is not None else status or "without a final status"
    raise Failed(f"step '{step}' failed: run {run_id} ended {ended}, mlproject exited {child.returncode}")


def show(run_id):
    """The run as `mlproject runs show RUN_ID --json` reports it (its run.shown event)."""
    done = subprocess.run([MLPROJECT, "runs", "show", run_id, "--json"], stdout=subprocess.PIPE, text=True)
    shown = [e for e in map(json.loads, done.stdout.splitlines()) if e.get("type") == "run.shown"]
    if done.returncode != 0 or not shown:
        raise Failed(f"mlproject runs show {run_id} failed (exit {done.returncode})")
    return shown[0]


def artifact(step, run, name):
    """The step's artifact `name` as the next step's `path` value: a local path for a file store, else the URI
    (mlproject downloads s3://, gs://, http(s):// and dbfs:/ path parameters itself)."""
    uri = run["artifact_uri"].rstrip("/") + "/" + name
    parsed = urlparse(uri)
    if parsed.scheme not in ("", "file"):
        return uri
    path = unquote(parsed.path) if parsed.scheme == "file" else uri
    if not os.path.isfile(path):
        raise Failed(f"step '{step}': run {run['run_id']} has no artifact {name} (looked for {path})")
    return path


def main():
    parser = argparse.ArgumentParser()
    # Passed on as written: the step's run key sees the value as its command does.
    parser.add_argument("--rows", required=True)
    parser.add_argument("--max-value", required=True)
    parser.add_argument("--alpha", required=True)
    args = parser.parse_args()

    # (entry point, its parameters given the previous step's artifact, the artifact it logs for the next)
    steps = [
        ("load", lambda _: {"rows": args.rows}, "raw.csv"),
        ("etl", lambda data: {"data": data, "max_value": args.max_value}, "clean.csv"),
        ("train", lambda data: {"data": data, "alpha": args.alpha}, None),
    ]
    done, data, last = [], None, None
    for step, params, produces in steps:
        run_id, reused = run_step(step, params(data))
        last = show(run_id)
        data = artifact(step, last, produces) if produces else None
        done.append((step, run_id, reused, produces))

    shown = last["metrics"]
    metrics = {k: shown[k]["value"] for k in ("rmse", "r2") if k in shown and shown[k]["value"] is not None}
    log("batch", "-", stdin=json.dumps({"metrics": [{"key": k, "value": v} for k, v in metrics.items()]}))
    say("multistep: load -> etl -> train")
    for step, run_id, reused, produces in done:
        what = produces or " ".join(f"{k}={v:.4f}" for k, v in metrics.items())
        say(f"  {step:<6} {run_id}  {'reused' if reused else 'ran   '}  {what}")
    say(f"{sum(1 for s in done if s[2])} of {len(done)} steps reused")


if __name__ == "__main__":
    try:
        main()
    except Failed as failed:
        say(f"main: {failed}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        # mlproject sent the signal to the step's mlproject too: it records that step KILLED.
        sys.exit(130)
