"""Uniform single-path training: resumable, refuses a foreign checkpoint, stops on NaN."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError
from nasforge.evaluate.supernet import read_checkpoint, train_single_path
from nasforge.space import NB201Space
from nasforge.space.supernet import Supernet
from nasforge.tasks import ArrayTask
from nasforge.tasks.base import TaskData

SPACE = NB201Space(dims=1, channels=4, cells_per_stage=1)


def _data(n: int = 120) -> TaskData:
    rng = np.random.default_rng(0)
    y = np.arange(n) % 3
    x = (rng.normal(size=(3, 1, 12)) * 2)[y] + rng.normal(size=(n, 1, 12))
    return ArrayTask(x=x.astype(np.float32), y=y, val_fraction=0.25, test_fraction=0.2,
                     seed=0).load()


def _fresh(data: TaskData) -> Supernet:
    torch.manual_seed(0)
    return SPACE.supernet(data.info)


def _same(a: Supernet, b: Supernet) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return all(torch.equal(sa[k], sb[k]) for k in sa)


class Killed(Exception):
    """Stands in for a kill right after an epoch's checkpoint was written."""


def test_a_killed_training_resumes_from_its_checkpoint_to_the_same_weights(tmp_path: Path
                                                                            ) -> None:
    data = _data()
    straight = _fresh(data)
    done = train_single_path(straight, SPACE, data, epochs=3, seed=1, batch_size=16)
    assert (done.epochs, done.resumed_from_epoch, done.status) == (3, 0, "ok")

    path = tmp_path / "supernet.pt"

    def kill_after_first(epoch: int, loss: float) -> None:
        if epoch == 1:
            raise Killed

    with pytest.raises(Killed):
        train_single_path(_fresh(data), SPACE, data, epochs=3, seed=1, batch_size=16,
                          checkpoint=path, on_epoch=kill_after_first)
    saved = read_checkpoint(path)
    assert saved is not None and saved["epoch"] == 1
    resumed_net = _fresh(data)
    resumed = train_single_path(resumed_net, SPACE, data, epochs=3, seed=1, batch_size=16,
                                checkpoint=path)
    assert (resumed.epochs, resumed.resumed_from_epoch, resumed.steps) == (3, 1, done.steps)
    assert _same(resumed_net, straight)

    again_net = _fresh(data)
    again = train_single_path(again_net, SPACE, data, epochs=3, seed=1, batch_size=16,
                              checkpoint=path)
    assert again.resumed_from_epoch == 3 and again.train_seconds == resumed.train_seconds
    assert _same(again_net, straight)


def test_a_checkpoint_of_other_settings_is_refused(tmp_path: Path) -> None:
    data = _data()
    path = tmp_path / "supernet.pt"
    train_single_path(_fresh(data), SPACE, data, epochs=1, seed=0, batch_size=32,
                      checkpoint=path)
    with pytest.raises(ConfigError, match=r"supernet checkpoint .*supernet\.pt was trained "
                                          r"with other settings"):
        train_single_path(_fresh(data), SPACE, data, epochs=1, seed=0, batch_size=32, lr=0.1,
                          checkpoint=path)


def test_divergence_stops_cleanly_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    data = _data()
    path = tmp_path / "supernet.pt"
    net = _fresh(data)

    def poison(epoch: int, loss: float) -> None:
        with torch.no_grad():
            net.head.weight.fill_(float("nan"))

    result = train_single_path(net, SPACE, data, epochs=3, seed=0, batch_size=32,
                               checkpoint=path, on_epoch=poison)
    assert (result.status, result.epochs) == ("diverged", 1)
    assert "non-finite training loss at epoch 2, step 1" in result.reason
    saved = read_checkpoint(path)
    assert saved is not None and saved["epoch"] == 1
    assert all(torch.isfinite(p).all() for p in net.parameters())  # the good weights are back


def test_every_step_trains_one_uniformly_drawn_path() -> None:
    data = _data()
    drawn: list[Architecture] = []

    def sampler(rng: np.random.Generator) -> Architecture:
        drawn.append(SPACE.sample(rng))
        return drawn[-1]

    result = train_single_path(_fresh(data), SPACE, data, epochs=2, seed=0, batch_size=16,
                               sampler=sampler)
    assert len(drawn) == result.steps == 2 * (len(data.train) // 16 +
                                              (len(data.train) % 16 >= 2))
    ops = [arch["cell.edge_3_0"] for arch in drawn]
    assert len(set(ops)) >= 3  # a uniform draw over the edge's five ops
