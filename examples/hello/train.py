"""A toy training loop: prints a loss per epoch and where the run is recorded."""
import argparse
import math
import os

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float, required=True)
parser.add_argument("--epochs", type=int, required=True)
parser.add_argument("--greeting", required=True)
args = parser.parse_args()

print(f"{args.greeting}! training with alpha={args.alpha} for {args.epochs} epochs")
for epoch in range(args.epochs):
    loss = math.exp(-args.alpha * (epoch + 1))
    print(f"epoch {epoch + 1}: loss={loss:.4f}")
print(f"MLflow run {os.environ.get('MLFLOW_RUN_ID')} in experiment {os.environ.get('MLFLOW_EXPERIMENT_ID')}")
