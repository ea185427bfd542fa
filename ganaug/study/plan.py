"""The grid of runs: the four :data:`ARMS`, one :class:`Run` per classifier training, and
:func:`plan_runs`, seed-major so that a partial study has whole seeds."""

from __future__ import annotations

from dataclasses import dataclass

from ganaug.study.config import StudyConfig

__all__ = ["ARMS", "Run", "plan_runs"]

ARMS = ("real", "classic", "gan", "gan+classic")


@dataclass(frozen=True)
class Run:
    """One classifier training: arm, synthetic setting (for GAN arms), classifier and seed."""

    arm: str
    classifier: str
    seed: int
    variant: str = ""
    mode: str = ""
    ratio: float = 0.0

    @property
    def run_id(self) -> str:
        parts = [self.classifier, self.arm.replace("+", "_"), f"seed{self.seed}"]
        if self.variant:
            parts[2:2] = [self.variant, self.mode, f"r{self.ratio:g}"]
        return "-".join(parts)


def plan_runs(config: StudyConfig) -> list[Run]:
    """Every run of the study, seed-major so that a partial study has whole seeds."""
    runs = []
    for seed in config.seeds:
        for classifier in config.classifiers:
            runs += [Run("real", classifier, seed), Run("classic", classifier, seed)]
            for variant in config.variants:
                for mode in config.modes:
                    for ratio in config.ratios:
                        for arm in ("gan", "gan+classic"):
                            runs.append(Run(arm, classifier, seed, variant.name, mode, ratio))
    return runs
