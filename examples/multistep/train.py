"""Step 3: fits y = slope * x + intercept to --data by ridge regression (penalty --alpha on the slope) and logs rmse and r2."""
import argparse
import csv
import json
import math
import os
import subprocess
import sys
import tempfile


def mlproject(*args, stdin=None):
    subprocess.run([os.environ.get("MLPROJECT_BIN", "mlproject"), *args], input=stdin, text=True, check=True, stdout=subprocess.DEVNULL)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--alpha", type=float, required=True)
    args = parser.parse_args()

    with open(args.data, newline="") as f:
        points = [(float(r["x"]), float(r["y"])) for r in csv.DictReader(f)]
    if len(points) < 2:
        sys.exit(f"train: {args.data} has {len(points)} rows; need at least 2")

    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    slope = sxy / (sxx + args.alpha)
    intercept = mean_y - slope * mean_x
    residuals = [y - (slope * x + intercept) for x, y in points]
    rmse = math.sqrt(sum(r * r for r in residuals) / n)
    total = sum((y - mean_y) ** 2 for _, y in points)
    r2 = 1 - sum(r * r for r in residuals) / total if total else 0.0

    metrics = {"rmse": rmse, "r2": r2, "slope": slope, "intercept": intercept}
    batch = {"metrics": [{"key": k, "value": v} for k, v in metrics.items()], "params": [{"key": "train_rows", "value": str(n)}]}
    mlproject("log", "batch", "-", stdin=json.dumps(batch))
    with tempfile.TemporaryDirectory(prefix="multistep-train-") as out:
        path = os.path.join(out, "model.json")
        with open(path, "w") as f:
            json.dump({"slope": slope, "intercept": intercept, "alpha": args.alpha}, f, indent=2)
        mlproject("log", "artifact", path)
    print(f"train: y = {slope:.4f} * x + {intercept:.4f} on {n} rows (alpha={args.alpha:g}): rmse={rmse:.4f} r2={r2:.4f}")


if __name__ == "__main__":
    main()
