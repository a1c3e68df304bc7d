"""ENAS: an LSTM controller trained by REINFORCE on a supernet's shared weights (Pham et al. 2018).

Pham, Guan, Zoph, Le & Dean, "Efficient Neural Architecture Search via Parameter Sharing", ICML
2018, https://arxiv.org/abs/1802.03268. A controller (an LSTM cell) chooses the decisions one
after another, each choice's embedding being the next step's input. Each epoch alternates two
phases: the supernet's shared weights are trained for one pass over the training split, one path
per batch sampled from the controller; then the controller is trained for ``controller_steps``
steps by REINFORCE, the reward of a sampled path being its accuracy (a fraction) on one
validation batch with the shared weights, minus a moving-average baseline (``baseline_decay``),
plus an entropy bonus. At the end ``n_final`` paths are sampled from the controller and the best
by validation accuracy with inherited weights (BatchNorm re-calibrated) are proposed, as the
paper derives its final cell.

Deviations: the reward is measured with batch statistics in BatchNorm (no re-calibration per
controller step, as the ENAS code does not either); the search runs over the supernet's
decisions only (a space's validity rules are checked when the paths are proposed); collapsed
cells are left out of the final pick (``collapse_guard``); the reported architecture weights are
the controller's probabilities along its greedy path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError, Problem
from nasforge.strategy.base import STRATEGIES
from nasforge.strategy.oneshot._collapse import collapsed
from nasforge.strategy.oneshot.base import OneShotStrategy

if TYPE_CHECKING:
    import torch

    from nasforge.strategy.oneshot._engine import SearchRun


def _controller(choices: dict[str, tuple[Any, ...]], hidden: int) -> Any:
    """The controller module: an LSTM cell, one embedding per option, one head per decision."""
    import torch
    from torch import nn

    class Controller(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.sizes = [len(o) for o in choices.values()]
            self.cell = nn.LSTMCell(hidden, hidden)
            self.start = nn.Parameter(torch.zeros(1, hidden))
            self.embed = nn.Embedding(sum(self.sizes), hidden)
            self.heads = nn.ModuleList(nn.Linear(hidden, n) for n in self.sizes)
            self.offsets = [sum(self.sizes[:i]) for i in range(len(self.sizes))]

        def forward(self, gen: torch.Generator | None, greedy: bool = False
                    ) -> tuple[list[int], torch.Tensor, torch.Tensor, list[list[float]]]:
            """Sample (or, greedy, pick the most likely) choice of every decision in turn:
            the choices, their summed log-probability and entropy, and each step's
            probabilities."""
            x, state = self.start, None
            picks: list[int] = []
            logp = torch.zeros(())
            entropy = torch.zeros(())
            probs: list[list[float]] = []
            for d, head in enumerate(self.heads):
                state = self.cell(x, state)
                dist = torch.log_softmax(head(state[0])[0], 0)
                p = dist.exp()
                if greedy:
                    i = int(p.argmax())
                else:
                    i = int(torch.multinomial(p.detach(), 1, generator=gen))
                picks.append(i)
                probs.append(p.detach().tolist())
                logp = logp + dist[i]
                entropy = entropy - (p * dist).sum()
                x = self.embed(torch.tensor([self.offsets[d] + i]))
            return picks, logp, entropy, probs

    return Controller()


@STRATEGIES.register("enas")
class ENAS(OneShotStrategy):
    """ENAS (Pham et al. 2018): an LSTM controller trained by REINFORCE on shared weights.

    Args:
        epochs: search epochs (each: one pass of shared-weight training, then the controller).
        batch_size: examples per batch (training, and each reward's validation batch).
        lr: the shared weights' SGD learning rate at the start (cosine-annealed to ``lr_min``).
        lr_min: the learning rate at the end.
        momentum: SGD momentum.
        weight_decay: SGD weight decay.
        grad_clip: clip the shared weights' gradient norm to this (``None``: off).
        controller_lr: the controller's Adam learning rate.
        controller_steps: controller updates per epoch (one sampled path each).
        controller_hidden: the LSTM's hidden size.
        entropy_weight: weight of the entropy bonus in the controller's loss.
        baseline_decay: decay of the reward's moving-average baseline.
        n_final: paths sampled from the trained controller to pick the proposals from.
        top: how many of them (best first) the study scores as trials.
        collapse_guard: leave collapsed cells (:func:`~nasforge.strategy.oneshot.collapsed`)
            out of the final pick, while any sampled cell did not collapse.
        bn_batches: training batches that re-calibrate BatchNorm before a final path is scored.
        score_examples: validation examples each final path is scored on.
    """

    paper = "Pham et al. 2018, https://arxiv.org/abs/1802.03268"

    def __init__(
        self,
        *,
        epochs: Annotated[int, Field(ge=1)] = 10,
        batch_size: Annotated[int, Field(ge=1)] = 64,
        lr: Annotated[float, Field(gt=0)] = 0.05,
        lr_min: Annotated[float, Field(ge=0)] = 0.001,
        momentum: Annotated[float, Field(ge=0, lt=1)] = 0.9,
        weight_decay: Annotated[float, Field(ge=0)] = 3e-4,
        grad_clip: Annotated[float, Field(gt=0)] | None = 5.0,
        controller_lr: Annotated[float, Field(gt=0)] = 0.005,
        controller_steps: Annotated[int, Field(ge=1)] = 30,
        controller_hidden: Annotated[int, Field(ge=1)] = 32,
        entropy_weight: Annotated[float, Field(ge=0)] = 1e-3,
        baseline_decay: Annotated[float, Field(ge=0, lt=1)] = 0.95,
        n_final: Annotated[int, Field(ge=1)] = 20,
        top: Annotated[int, Field(ge=1)] = 1,
        collapse_guard: bool = True,
        bn_batches: Annotated[int, Field(ge=1)] = 4,
        score_examples: Annotated[int, Field(ge=1)] = 1000,
    ) -> None:
        problems = []
        if lr_min > lr:
            problems.append(Problem("strategy.lr_min", f"must be <= lr ({lr}); got {lr_min}",
                                    f"use lr_min <= {lr} (the cosine schedule ends there)"))
        if top > n_final:
            problems.append(Problem("strategy.top", f"must be <= n_final ({n_final}); got {top}",
                                    f"use top <= {n_final} or raise n_final"))
        if problems:
            raise ConfigError(problems)
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.lr_min = lr_min
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.grad_clip = grad_clip
        self.controller_lr = controller_lr
        self.controller_steps = controller_steps
        self.controller_hidden = controller_hidden
        self.entropy_weight = entropy_weight
        self.baseline_decay = baseline_decay
        self.n_final = n_final
        self.top = top
        self.collapse_guard = collapse_guard
        self.bn_batches = bn_batches
        self.score_examples = score_examples

    def _init_state(self, run: SearchRun) -> None:
        import torch

        from nasforge.strategy.oneshot._engine import weight_optimiser

        weight_optimiser(run, lr=self.lr, lr_min=self.lr_min, momentum=self.momentum,
                         weight_decay=self.weight_decay, epochs=self.epochs)
        controller = _controller(run.supernet.choices, self.controller_hidden)
        run.state["controller"] = controller
        run.state["c_opt"] = torch.optim.Adam(controller.parameters(), lr=self.controller_lr)
        run.state["baseline"] = None

    def _arch(self, run: SearchRun, picks: list[int]) -> Architecture:
        return Architecture({name: options[i] for (name, options), i
                             in zip(run.supernet.choices.items(), picks, strict=True)})

    def _sample(self, run: SearchRun) -> Architecture:
        import torch

        with torch.no_grad():
            picks = run.state["controller"](run.gen)[0]
        return self._arch(run, picks)

    def _train_epoch(self, run: SearchRun) -> float:
        import torch

        from nasforge.strategy.oneshot._engine import single_path_epoch

        loss = single_path_epoch(run, lambda: self._sample(run), batch_size=self.batch_size,
                                 grad_clip=self.grad_clip)
        controller, opt = run.state["controller"], run.state["c_opt"]
        val = run.val_batches(self.batch_size)
        for step in range(self.controller_steps):
            run.check_time()
            picks, logp, entropy, _ = controller(run.gen)
            x, y = next(val)
            run.supernet.use(self._arch(run, picks))
            with torch.no_grad():
                reward = float((run.supernet(x).argmax(1) == y).float().mean())
            baseline = run.state["baseline"]
            baseline = reward if baseline is None else baseline
            advantage = reward - baseline
            run.state["baseline"] = (self.baseline_decay * baseline
                                     + (1 - self.baseline_decay) * reward)
            c_loss = -advantage * logp - self.entropy_weight * entropy
            run.check_finite(c_loss, "controller loss", step)
            opt.zero_grad()
            c_loss.backward()
            opt.step()
        return loss

    def _weights(self, run: SearchRun) -> dict[str, list[float]]:
        import torch

        with torch.no_grad():
            probs = run.state["controller"](None, greedy=True)[3]
        return dict(zip(run.supernet.choices, probs, strict=True))

    def _current(self, run: SearchRun) -> Architecture:
        import torch

        with torch.no_grad():
            picks = run.state["controller"](None, greedy=True)[0]
        return self._arch(run, picks)

    def _final(self, run: SearchRun) -> list[Architecture]:
        candidates = [self._current(run)]
        for _ in range(self.n_final - 1):
            arch = self._sample(run)
            if arch not in candidates:
                candidates.append(arch)
        candidates = [a for a in candidates if run.space.contains(a)] or candidates[:1]
        if self.collapse_guard:
            free = run.supernet.parameter_free
            candidates = [a for a in candidates
                          if not collapsed(run.space, a, free)] or candidates
        scores = {a: run.accuracy(a, bn_batches=self.bn_batches,
                                  max_examples=self.score_examples) for a in candidates}
        return sorted(candidates, key=lambda a: -scores[a])[: self.top]
