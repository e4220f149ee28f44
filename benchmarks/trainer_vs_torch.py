"""Train the same MLP (64-64-32-10 on digits, Adam, batch 32) in nnfx and in PyTorch.

Both see the same stratified 70/15/15 split, standardized with the training statistics, in
float32, for the same number of epochs. Time per epoch is the median over repeats of the whole
training loop (shuffle, forward, backward, update; nnfx also computes its per-epoch training
metrics, PyTorch does not). PyTorch is measured two ways: the idiomatic DataLoader loop, and a
leaner loop that indexes tensors with randperm (the fastest plain PyTorch loop we know).

Needs PyTorch for comparison only: ``pip install torch==2.13.0`` (never a dependency of nnfx).
Usage: ``python benchmarks/trainer_vs_torch.py [--epochs 30] [--repeats 3]``.
Writes ``benchmarks/results/trainer_vs_torch.json``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine, write  # noqa: E402

from nnfx.trainer import (  # noqa: E402
    Adam,
    Dense,
    Sequential,
    Standardizer,
    load_dataset,
    train_val_test_split,
)
from nnfx.ui import console, table  # noqa: E402

HIDDEN = (64, 32)


def data(seed: int):
    d = load_dataset("digits")
    (X, y), _, (Xt, yt) = train_val_test_split(d.X, d.y, seed=seed)
    scaler = Standardizer().fit(X)
    f32 = np.float32
    return scaler.transform(X).astype(f32), y, scaler.transform(Xt).astype(f32), yt


def run_nnfx(X, y, Xt, yt, epochs, seed):
    layers = [Dense(h, activation="relu", kernel_initializer="he_uniform") for h in HIDDEN]
    model = Sequential([*layers, Dense(10, activation="softmax")], input_shape=(64,), seed=seed)
    model.compile(Adam(0.001), "categorical_crossentropy", ["accuracy"])
    start = time.perf_counter()
    model.fit(X, y, epochs=epochs, batch_size=32, verbose=0)
    seconds = time.perf_counter() - start
    return seconds / epochs, model.evaluate(Xt, yt)["accuracy"]


def run_torch(X, y, Xt, yt, epochs, seed, loader: bool):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(64, HIDDEN[0]), nn.ReLU(), nn.Linear(*HIDDEN), nn.ReLU(), nn.Linear(HIDDEN[1], 10)
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    loss_fn = nn.CrossEntropyLoss()
    Xs, ys = torch.from_numpy(X), torch.from_numpy(y)
    batches = None
    if loader:
        dataset = torch.utils.data.TensorDataset(Xs, ys)
        batches = torch.utils.data.DataLoader(dataset, batch_size=32, shuffle=True)
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        if loader:
            epoch = iter(batches)
        else:
            order = torch.randperm(len(Xs))
            epoch = ((Xs[i], ys[i]) for i in order.split(32))
        for xb, yb in epoch:
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        accuracy = (model(torch.from_numpy(Xt)).argmax(1).numpy() == yt).mean()
    return seconds / epochs, float(accuracy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        sys.exit("PyTorch is not installed: pip install torch==2.13.0")

    runs: dict[str, list[tuple[float, float]]] = {
        "nnfx": [],
        "torch_randperm": [],
        "torch_dataloader": [],
    }
    for repeat in range(args.repeats):
        X, y, Xt, yt = data(seed=repeat)
        runs["nnfx"].append(run_nnfx(X, y, Xt, yt, args.epochs, repeat))
        runs["torch_randperm"].append(run_torch(X, y, Xt, yt, args.epochs, repeat, loader=False))
        runs["torch_dataloader"].append(run_torch(X, y, Xt, yt, args.epochs, repeat, loader=True))

    summary = {}
    for name, values in runs.items():
        epoch_s = [v[0] for v in values]
        accuracy = [v[1] for v in values]
        summary[name] = {
            "seconds_per_epoch_median": statistics.median(epoch_s),
            "seconds_per_epoch_all": epoch_s,
            "test_accuracy_mean": statistics.mean(accuracy),
            "test_accuracy_all": accuracy,
        }
    fastest_torch = min(
        summary["torch_randperm"]["seconds_per_epoch_median"],
        summary["torch_dataloader"]["seconds_per_epoch_median"],
    )
    nnfx_epoch = summary["nnfx"]["seconds_per_epoch_median"]
    accuracy_gap = 100 * abs(
        summary["nnfx"]["test_accuracy_mean"] - summary["torch_randperm"]["test_accuracy_mean"]
    )
    verdict = {
        "nnfx_speedup_vs_fastest_torch": fastest_torch / nnfx_epoch,
        "nnfx_no_slower_than_torch": nnfx_epoch <= fastest_torch,
        "accuracy_gap_points": accuracy_gap,
        "accuracy_within_1_point": accuracy_gap <= 1.0,
    }
    rows = [
        (name, f"{s['seconds_per_epoch_median'] * 1e3:.2f}", f"{100 * s['test_accuracy_mean']:.2f}")
        for name, s in summary.items()
    ]
    console.print(
        table(
            f"64-64-32-10 MLP on digits, Adam, batch 32, {args.epochs} epochs, "
            f"median of {args.repeats}",
            ["name", "ms / epoch", "test accuracy %"],
            rows,
        )
    )
    console.print(
        f"nnfx is {verdict['nnfx_speedup_vs_fastest_torch']:.2f}x the speed of the fastest PyTorch "
        f"loop; accuracy gap {accuracy_gap:.2f} points"
    )
    path = write(
        "trainer_vs_torch",
        {
            "benchmark": "trainer_vs_torch",
            "model": "64-64-32-10 MLP, ReLU, softmax + cross-entropy",
            "dataset": "digits (scikit-learn), 70/15/15 stratified split, standardized",
            "optimizer": "Adam lr=0.001",
            "batch_size": 32,
            "epochs": args.epochs,
            "repeats": args.repeats,
            "dtype": "float32",
            "torch_threads": torch.get_num_threads(),
            "machine": machine(("numpy", "torch", "nnfx")),
            "results": summary,
            "verdict": verdict,
        },
    )
    console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
