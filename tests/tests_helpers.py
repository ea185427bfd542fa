"""Assertions shared by the resume and DDP tests."""

import torch


def assert_same_training_state(a, b) -> None:
    """G, D, EMA G and both optimizers' states of two GAN modules are identical."""
    for name in ("generator", "discriminator", "generator_ema"):
        sa, sb = getattr(a, name).state_dict(), getattr(b, name).state_dict()
        assert sa.keys() == sb.keys()
        for key in sa:
            assert torch.equal(sa[key], sb[key]), f"{name}.{key} differs"
    for opt_a, opt_b in zip(a.trainer.optimizers, b.trainer.optimizers):
        state_a, state_b = opt_a.state_dict()["state"], opt_b.state_dict()["state"]
        assert state_a.keys() == state_b.keys()
        for index in state_a:
            for key, value in state_a[index].items():
                assert torch.equal(value, state_b[index][key]), f"optimizer state {index}.{key}"
