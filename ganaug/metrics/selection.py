"""``SelectGenerator``: keep the EMA generator of the iteration that drew its classes best.

A conditional GAN trained on few images per class draws the class it is asked for only after
some point of its training, and may lose it again (Shahbazi et al. 2022, "Collapse by
Conditioning", https://arxiv.org/abs/2201.06578); FID and IS do not tell when (Ravuri & Vinyals
2019). GaFi (Lampis et al. 2023, https://arxiv.org/abs/2302.02988) selects the generator by how
useful its samples are to a classifier. This callback does the cheap half of that: every
``every_n_iterations`` it measures the class faithfulness of the EMA generator under a
*selector* classifier, remembers the best snapshot, and puts it back in place when the fit
ends, so ``sample()``, checkpoints written afterwards and everything downstream use it.

The selector takes part in choosing the generator, so it must not also be the judge that reports
the chosen generator's faithfulness: judge with a classifier trained on other real images. A
``monitor`` classifier (such a judge) is measured on the same samples at every evaluation and
recorded next to the selector, but never used to choose: it draws the curve of faithfulness
against training length.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_info
from torch import nn

from ganaug.metrics.faithfulness import FaithfulnessResult, bank_faithfulness, require_classes
from ganaug.sampling import draw_class_balanced

__all__ = ["SelectGenerator"]

Criterion = Literal["mean", "worst"]


class SelectGenerator(L.Callback):
    """Evaluate the EMA generator's faithfulness during training; restore the best at the end.

    ``history`` holds ``(iteration, mean, worst)`` of every evaluation, ``best_iteration`` the
    chosen one; ``monitor_history`` the monitor's ``(iteration, mean, worst)``. Under DDP every
    process evaluates the same samples (the selector and the EMA generator are identical on
    all ranks), so every rank restores the same snapshot.
    """

    def __init__(
        self,
        selector: nn.Module,  # classifier of real images in [-1, 1] -> logits (N, K)
        *,
        every_n_iterations: int = 250,  # evaluate after every n-th generator step
        start_iteration: int = 0,  # no evaluation before this iteration
        n_per_class: int = 50,  # images per class in each evaluation
        criterion: Criterion = "mean",  # "mean" or "worst" class faithfulness, the other breaks
        # ties, then the later snapshot; "worst" is fragile when a class is never drawn right:
        # a snapshot with 4 % instead of 0 % for that class wins whatever its mean
        seed: int = 0,  # noise of the evaluation samples (the same at every evaluation)
        verbose: bool = False,  # print each evaluation
        monitor: nn.Module | None = None,  # also measured and recorded, never used to select
    ) -> None:
        super().__init__()
        if every_n_iterations < 1 or n_per_class < 1 or start_iteration < 0:
            raise ValueError("need every_n_iterations >= 1, n_per_class >= 1 and "
                             f"start_iteration >= 0, got {every_n_iterations}, {n_per_class}, "
                             f"{start_iteration}")
        if criterion not in ("mean", "worst"):
            raise ValueError(f"criterion must be 'mean' or 'worst', got {criterion!r}")
        self.selector = selector.eval().requires_grad_(False)
        self.every_n_iterations = every_n_iterations
        self.start_iteration = start_iteration
        self.n_per_class = n_per_class
        self.criterion = criterion
        self.seed = seed
        self.verbose = verbose
        self.monitor = monitor.eval().requires_grad_(False) if monitor is not None else None
        self.history: list[tuple[int, float, float]] = []
        self.monitor_history: list[tuple[int, float, float]] = []
        self.best_iteration: int | None = None
        self.best_score: tuple[float, float] | None = None
        self._best_state: dict[str, torch.Tensor] | None = None
        self._last_evaluated = -1

    def score(self, result: FaithfulnessResult) -> tuple[float, float]:
        """What is maximised: (criterion, the other) so that ties fall to the second number."""
        if self.criterion == "mean":
            return (result.mean, result.worst)
        return (result.worst, result.mean)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        iteration = pl_module.iteration
        if (iteration < max(1, self.start_iteration) or iteration % self.every_n_iterations
                or iteration == self._last_evaluated):
            return
        self._last_evaluated = iteration
        self.evaluate(pl_module)

    def evaluate(self, pl_module: L.LightningModule) -> FaithfulnessResult:
        """Measure the EMA generator now and remember it when it is the best so far."""
        # one draw, judged by the selector and (when there is one) the monitor
        require_classes(pl_module)
        generator = torch.Generator(device=pl_module.device).manual_seed(self.seed)
        images, labels = draw_class_balanced(pl_module, self.n_per_class, generator,
                                             batch_size=250)
        k = pl_module.num_classes
        result = bank_faithfulness(images, labels, self.selector.to(pl_module.device),
                                   num_classes=k)
        iteration = pl_module.iteration
        self.history.append((iteration, result.mean, result.worst))
        score = self.score(result)
        if self.best_score is None or score >= self.best_score:
            self.best_score, self.best_iteration = score, iteration
            self._best_state = copy.deepcopy(pl_module.generator_ema.state_dict())
        values = {"selection/faithfulness_mean": result.mean,
                  "selection/faithfulness_worst": result.worst}
        if self.monitor is not None:
            monitored = bank_faithfulness(images, labels, self.monitor.to(pl_module.device),
                                          num_classes=k)
            self.monitor_history.append((iteration, monitored.mean, monitored.worst))
            values.update({"monitor/faithfulness_mean": monitored.mean,
                           "monitor/faithfulness_worst": monitored.worst})
        pl_module.log_dict(values, sync_dist=False)
        if self.verbose:
            rank_zero_info(f"iteration {iteration}: selector faithfulness mean {result.mean:.3f}, "
                           f"worst {result.worst:.3f} (best so far: iteration "
                           f"{self.best_iteration})")
        return result

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # a last look at the final generator, then the best snapshot goes back in place
        if pl_module.iteration != self._last_evaluated and pl_module.iteration >= self.start_iteration:
            self._last_evaluated = pl_module.iteration
            self.evaluate(pl_module)
        if self._best_state is not None:
            pl_module.generator_ema.load_state_dict(self._best_state)
            if self.verbose:
                rank_zero_info(f"SelectGenerator: kept the EMA generator of iteration "
                               f"{self.best_iteration}")

    # resuming: the best snapshot so far and the history travel with the checkpoint

    def state_dict(self) -> dict[str, Any]:
        return {"history": list(self.history), "monitor_history": list(self.monitor_history),
                "best_iteration": self.best_iteration,
                "best_score": self.best_score, "best_state": self._best_state,
                "last_evaluated": self._last_evaluated}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = [tuple(row) for row in state["history"]]
        self.monitor_history = [tuple(row) for row in state.get("monitor_history", [])]
        self.best_iteration = state["best_iteration"]
        self.best_score = tuple(state["best_score"]) if state["best_score"] is not None else None
        self._best_state = state["best_state"]
        self._last_evaluated = state["last_evaluated"]
