"""Seeds are mixed in one place: ganaug.seeding, and its generators are pure functions of their
inputs."""

import ast
from pathlib import Path

import numpy as np

import ganaug
from ganaug.seeding import epoch_rng, rank_seed, step_seed

PACKAGE = Path(ganaug.__file__).parent
MIXERS = {"SeedSequence", "default_rng"}  # numpy's ways of mixing several numbers into a seed


def test_only_the_seeding_module_mixes_seeds():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "seeding.py" and path.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)
            if name in MIXERS:
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {name}")
    assert not offenders, f"mix seeds through ganaug.seeding instead: {offenders}"


def test_epoch_generators_are_pure_and_independent_per_epoch_and_stream():
    order = epoch_rng(3, 1).permutation(50)
    assert np.array_equal(order, epoch_rng(3, 1).permutation(50))
    assert not np.array_equal(order, epoch_rng(3, 2).permutation(50))
    assert not np.array_equal(order, epoch_rng(4, 1).permutation(50))
    assert not np.array_equal(order, epoch_rng(3, 1, stream=7).permutation(50))


def test_rank_and_step_seeds_differ_per_process_and_repeat_per_call():
    seeds = [rank_seed(5, rank) for rank in range(8)]
    assert len(set(seeds)) == 8 and all(0 <= s < 2**32 for s in seeds)
    assert seeds == [rank_seed(5, rank) for rank in range(8)]
    steps = {step_seed(5, rank, step) for rank in range(4) for step in range(50)}
    assert len(steps) == 200 and all(0 <= s < 2**63 for s in steps)
