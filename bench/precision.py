#!/usr/bin/env python3
"""Time `n2d`'s autoencoder epochs with `model.precision` float32 and bfloat16, on this CPU.

Each precision trains in a fresh process on the shipped MNIST's training images, with the
workflow's own model, optimizer, input pipeline and thread cap, for a few epochs from the same
seed. Prints per precision the median wall and CPU seconds of the epochs after the first (which
includes tracing) and the loss reached, and the CPU's model and the flags that give bfloat16
products in hardware (AVX512_BF16, AMX).

    python bench/precision.py                  # 3 epochs, batch 256, 2 threads
    python bench/precision.py --epochs 4 --threads 4
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from benchmark import machine  # noqa: E402

POLICIES = ("float32", "bfloat16")

TRAIN_ONE = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np
from saepipe import job_threads
from saepipe import model as sae
from saepipe import training
from saepipe.idx import read_idx

policy, epochs, batch_size, threads, images = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
training.seed_everything(0, threads=job_threads(threads))
x = (read_idx(images).reshape(-1, 784) / 255.0).astype("float32")
autoencoder, _, _ = sae.build_autoencoder(784, [500, 500, 2000], 10, sparsity="none", input_noise=0.2,
                                          precision=policy)
autoencoder.compile(optimizer=sae.make_optimizer("adam", 0.001), loss="mse")
import tensorflow as tf
tensor = tf.convert_to_tensor(x)
rows = []
for epoch in range(epochs):
    wall, cpu = time.perf_counter(), time.process_time()
    fitted = autoencoder.fit(training.batches(tensor, training.epoch_order(0, epoch, len(x)), batch_size), epochs=1, verbose=0)
    rows.append({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                 "loss": float(fitted.history["loss"][-1])})
print(json.dumps(rows))
"""


def train(policy: str, epochs: int, batch_size: int, threads: int) -> list[dict]:
    """The epochs of one fresh process training in `policy`."""
    images = REPO / "resources" / "mnist" / "train-images-idx3-ubyte.gz"
    done = subprocess.run([sys.executable, "-c", TRAIN_ONE, str(REPO / "scripts"), policy, str(epochs),
                           str(batch_size), str(threads), str(images)], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"training in {policy} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the first epoch includes tracing and is not timed")
    cpu = machine()
    print(f"{cpu['cpu']}, {cpu['cores']} cores, {cpu['flags']}; {args.threads} threads, batch {args.batch_size}, "
          f"n2d's autoencoder (784-500-500-2000-10), 60,000 images")
    results = {policy: train(policy, args.epochs, args.batch_size, args.threads) for policy in POLICIES}
    for policy, rows in results.items():
        timed = rows[1:]
        print(f"{policy:<16} epoch {statistics.median(r['wall'] for r in timed):6.2f} s wall, "
              f"{statistics.median(r['cpu'] for r in timed):6.2f} s CPU (median of epochs 2-{args.epochs}); "
              f"loss after epoch {args.epochs}: {rows[-1]['loss']:.6f}")
    base, bf16 = (statistics.median(r["cpu"] for r in results[p][1:]) for p in POLICIES)
    print(f"bfloat16 / float32 CPU seconds an epoch: {bf16 / base:.2f}")


if __name__ == "__main__":
    main()
