"""The Python API in a notebook or script: search, inspect, export, load.

Run with ``python examples/python_api.py`` (about a minute on 2 CPU cores).
"""

from __future__ import annotations

import torch

import nasforge as nf


def main() -> None:
    study = nf.search(
        name="api-digits",
        task="digits",  # scikit-learn's bundled 8x8 digits, as 64 tabular features
        space=nf.space.MLP(),
        strategy=nf.strategy.LocalSearch(n_initial=4),
        evaluator=nf.evaluate.Train(epochs=10, patience=3),
        executor={"name": "process", "workers": 2},
        budget=nf.Budget(trials=12),
        seed=0,
        overwrite=True,
    )
    best = study.best()
    print(best)  # Trial#N, its architecture and metrics
    print(study.to_dataframe()[["number", "state", "val_accuracy", "params"]].head())

    # Like `nasforge search`, nf.search exported the best model when it ended:
    # runs/api-digits/best holds model.py, weights, ONNX and architecture.json.
    model = nf.load(study.directory / "best")  # a plain torch.nn.Module, no study needed
    x = torch.randn(2, 64)
    print("logits:", model(x).shape)


if __name__ == "__main__":
    main()
