"""Every GAN module pickles and deep-copies (its spectral-norm parametrisations alone refuse to),
coming back with the same state, outputs, counters and modes; so a ``ddp_spawn`` fit, which
pickles the module into new processes, trains (tests/test_ddp.py runs one)."""

import copy
import pickle

import pytest
import torch

from ganaug.modules import DAGAN, GAN, BigGAN, ConditionalGAN

TINY = dict(latent_dim=8, g_width=4, d_width=4, image_size=28, grid_size=4)
FAMILIES = {
    "gan": lambda: GAN(**TINY),
    "cgan": lambda: ConditionalGAN(num_classes=2, **TINY),
    "biggan": lambda: BigGAN(num_classes=2, latent_dim=8, g_width=1, d_width=1, channels=1,
                             image_size=32, grid_size=2, shared_embedding=True),
    "dagan": lambda: DAGAN(**TINY, d_spectral_norm=True),
}
COPIES = {"pickle": lambda m: pickle.loads(pickle.dumps(m)), "deepcopy": copy.deepcopy}


@pytest.mark.parametrize("how", COPIES)
@pytest.mark.parametrize("family", FAMILIES)
def test_round_trip_keeps_state_outputs_counters_and_modes(family, how):
    model = FAMILIES[family]()
    with torch.no_grad():  # weights no fresh build could have
        for p in model.parameters():
            p.add_(torch.randn_like(p))
    model.d_steps_done, model.iteration = 7, 3
    before = torch.get_rng_state()

    copied = COPIES[how](model)

    assert torch.equal(torch.get_rng_state(), before)  # rebuilding drew no global random numbers
    assert type(copied) is type(model) and copied.hparams == model.hparams
    original, restored = model.state_dict(), copied.state_dict()
    assert original.keys() == restored.keys()
    for key in original:
        assert torch.equal(original[key], restored[key]), key
    assert (copied.d_steps_done, copied.iteration) == (7, 3)
    assert copied.training and not copied.generator_ema.training
    assert torch.equal(copied.sample_grid(), model.sample_grid())
    # the copy is independent of the original
    with torch.no_grad():
        next(copied.generator.parameters()).add_(1.0)
    assert not torch.equal(next(copied.generator.parameters()), next(model.generator.parameters()))

