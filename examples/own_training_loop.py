"""Your own model and training loop in the search: a define-by-run space, median pruning.

The space is a plain function that builds a PyTorch module and asks for each decision where it
needs it (``a.choice``); the evaluator is your own training loop, which reports its validation
accuracy after every epoch and stops when the study's pruner says the trial is hopeless.

Run with ``python examples/own_training_loop.py`` (about two minutes on 2 CPU cores). The same
two functions can be named in YAML::

    space: {name: function, path: "examples/own_training_loop.py:net"}
    evaluator: {name: function, path: "examples/own_training_loop.py:fit"}
    pruner: {name: median, n_startup_trials: 5}
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

import nasforge as nf

EPOCHS = 8
BATCH_SIZE = 128


class Block(nn.Module):
    """A 1-D convolution block with an optional residual connection."""

    def __init__(self, width: int, kernel: int, skip: bool) -> None:
        super().__init__()
        self.conv = nn.Conv1d(width, width, kernel, padding="same")
        self.norm = nn.BatchNorm1d(width)
        self.skip = skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.norm(self.conv(x)))
        return x + y if self.skip else y


@nf.space.define
def net(a: Any, task: Any) -> nn.Module:
    """A small 1-D CNN; ``block<i>.*`` decisions exist only for the blocks ``depth`` builds."""
    width = a.choice("width", [16, 32, 64])
    kernel = a.choice("kernel", [3, 5, 7])
    layers: list[nn.Module] = [
        nn.Conv1d(task.input_shape[0], width, kernel, padding="same"),
        nn.BatchNorm1d(width),
        nn.ReLU(),
    ]
    for i in range(a.choice("depth", [1, 2, 3])):
        layers.append(Block(width, a.choice(f"block{i}.kernel", [3, 5]),
                            skip=a.choice(f"block{i}.skip", [True, False])))
    if a.choice("pool", ["avg", "max"]) == "avg":
        layers.append(nn.AdaptiveAvgPool1d(1))
    else:
        layers.append(nn.AdaptiveMaxPool1d(1))
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(width, task.n_outputs))


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return 100.0 * float((model(x).argmax(dim=1) == y).float().mean())


def fit(model: nn.Module, task: Any, trial: Any) -> dict[str, float]:
    """Train with AdamW and a cosine schedule; report validation accuracy after each epoch."""
    x, y = torch.as_tensor(task.train.x), torch.as_tensor(task.train.y)
    x_val, y_val = torch.as_tensor(task.val.x), torch.as_tensor(task.val.y)
    x_test, y_test = torch.as_tensor(task.test.x), torch.as_tensor(task.test.y)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01, weight_decay=0.01)
    steps = EPOCHS * ((len(y) + BATCH_SIZE - 1) // BATCH_SIZE)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    generator = torch.Generator().manual_seed(trial.seed)
    best_val, best_state = -1.0, None
    for epoch in range(EPOCHS):
        model.train()
        order = torch.randperm(len(y), generator=generator)
        for start in range(0, len(y), BATCH_SIZE):
            index = order[start : start + BATCH_SIZE]
            if len(index) < 2:  # BatchNorm cannot train on one example
                continue
            optimizer.zero_grad()
            F.cross_entropy(model(x[index]), y[index]).backward()
            optimizer.step()
            schedule.step()
        val_accuracy = _accuracy(model, x_val, y_val)
        if val_accuracy > best_val:
            best_val = val_accuracy
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        trial.report(epoch, val_accuracy=val_accuracy)  # stored as the trial's learning curve
        if trial.should_prune():
            raise nf.TrialPruned()
    assert best_state is not None
    model.load_state_dict(best_state)
    return {"val_accuracy": best_val, "test_accuracy": _accuracy(model, x_test, y_test)}


def main(trials: int = 20) -> nf.Study:
    study = nf.search(
        name="own-loop",
        task="mnist1d",
        space=net,
        evaluator=fit,
        pruner={"name": "median", "n_startup_trials": 5},
        strategy="random",
        executor="inline",
        budget={"trials": trials},
        seed=0,
        overwrite=True,
    )
    counts = study.to_dataframe()["state"].value_counts().to_dict()
    print(f"trials by state: {counts}")
    best = study.best()
    print(f"best: {net.format(best.arch)}  val {best.metrics['val_accuracy']:.2f}%  "
          f"test {best.metrics['test_accuracy']:.2f}%")
    return study


if __name__ == "__main__":
    main()
