"""The grid of runs: the :data:`ARMS`, one :class:`Run` per classifier training, and
:func:`plan_runs`, seed-major so that a partial study has whole seeds."""

from __future__ import annotations

from dataclasses import dataclass

from ganaug.study.config import StudyConfig

__all__ = ["ARMS", "CLASSIC_ARMS", "REAL_ARMS", "Run", "plan_runs"]

ARMS = ("real", "classic", "gan", "gan+classic", "synthetic", "synthetic+classic")
"""``real``: the real subset; ``classic``: with classic augmentation; ``gan``: blended with
synthetic images; ``gan+classic``: the blend with classic augmentation on every sample;
``synthetic``: the synthetic images alone (its accuracy against ``real``'s is the CAS);
``synthetic+classic``: the synthetic images alone with classic augmentation (its accuracy against
``classic``'s is the CAS under the augmentation a user trains with)."""

REAL_ARMS = ("real", "classic")
"""The arms without synthetic images (with any recipe: a recipe's control run is ``classic``)."""

CLASSIC_ARMS = ("classic", "gan+classic", "synthetic+classic")
"""The arms trained with the study's classic augmentation."""


@dataclass(frozen=True)
class Run:
    """One classifier training: arm, synthetic setting (for GAN arms), recipe, classifier, seed."""

    arm: str
    classifier: str
    seed: int
    variant: str = ""
    mode: str = ""
    ratio: float = 0.0
    recipe: str = ""

    @property
    def run_id(self) -> str:
        parts = [self.classifier, self.arm.replace("+", "_"), f"seed{self.seed}"]
        if self.variant:
            parts[2:2] = [self.variant, self.mode, f"r{self.ratio:g}"]
        if self.recipe:
            parts[-1:-1] = [self.recipe]
        return "-".join(parts)

    @property
    def synthetic(self) -> bool:
        """Whether the run trains on synthetic images."""
        return self.arm not in REAL_ARMS


def plan_runs(config: StudyConfig) -> list[Run]:
    """Every run of the study, seed-major so that a partial study has whole seeds."""
    runs = []
    for seed in config.seeds:
        for classifier in config.classifiers:
            runs += [Run("real", classifier, seed), Run("classic", classifier, seed)]
            runs += [Run("classic", classifier, seed, recipe=recipe.name)
                     for recipe in config.recipes if recipe.needs_control]
            for variant in config.variants:
                for mode in config.modes:
                    for ratio in config.ratios:
                        for arm in config.gan_arms:
                            runs.append(Run(arm, classifier, seed, variant.name, mode, ratio))
                        runs += [Run("gan+classic", classifier, seed, variant.name, mode, ratio,
                                     recipe.name) for recipe in config.recipes
                                 if not recipe.real_only]
                if config.cas:
                    runs.append(Run("synthetic", classifier, seed, variant.name, "replace", 1.0))
                if config.cas_classic:
                    runs.append(Run("synthetic+classic", classifier, seed, variant.name,
                                    "replace", 1.0))
    return runs
