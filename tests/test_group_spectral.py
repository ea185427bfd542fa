"""Group spectral regularisation (gSR) of the class-conditional batch norm: grouped spectral norms
against hand-computed singular values and numpy's SVD, the penalty on ConditionalGAN, a short fit,
and the refusals."""

import numpy as np
import pytest
import torch

from ganaug.data import ImageDataModule
from ganaug.modules import ConditionalGAN
from ganaug.modules.group_spectral import (
    GroupSpectralPenalty,
    class_conditional_norms,
    grouped_spectral_norms,
)
from ganaug.nn import ConditionalBatchNorm2d


def test_grouped_spectral_norms_by_hand():
    vectors = torch.tensor([
        [3.0, 0.0, 0.0, 4.0],  # groups=2: [[3, 0], [0, 4]], singular values 4 and 3
        [1.0, 1.0, 1.0, 1.0],  # [[1, 1], [1, 1]] = 2 * u u^T with unit u: sigma_max 2
        [1.0, 2.0, 2.0, 4.0],  # [[1, 2], [2, 4]]: rank one, sigma = |(1, 2)| * |(1, 2)| = 5
    ])
    assert grouped_spectral_norms(vectors, 2).tolist() == pytest.approx([4.0, 2.0, 5.0])
    # one group: the vector's Euclidean length; C groups: the same (a column)
    lengths = [5.0, 2.0, 5.0]
    assert grouped_spectral_norms(vectors, 1).tolist() == pytest.approx(lengths)
    assert grouped_spectral_norms(vectors, 4).tolist() == pytest.approx(lengths)


def test_grouped_spectral_norms_match_numpy_svd():
    vectors = torch.randn(5, 24, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for groups in (2, 3, 4, 6):
        expected = [np.linalg.svd(v.reshape(groups, 24 // groups), compute_uv=False)[0]
                    for v in vectors.numpy()]
        assert grouped_spectral_norms(vectors, groups).tolist() == pytest.approx(expected, rel=1e-5)


def test_the_penalty_sums_squared_norms_of_gains_and_biases_over_layers_and_classes():
    class TwoNorms(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = ConditionalBatchNorm2d(4, num_classes=2)
            self.b = ConditionalBatchNorm2d(2, num_classes=2)
            self.plain = ConditionalBatchNorm2d(4)  # no classes: not regularised

    network = TwoNorms()
    with torch.no_grad():
        network.a.gain.weight.copy_(torch.tensor([[3.0, 0.0, 0.0, 4.0], [1.0, 1.0, 1.0, 1.0]]))
        network.a.bias.weight.zero_()
        network.b.gain.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
        network.b.bias.weight.copy_(torch.tensor([[0.0, 2.0], [0.0, 0.0]]))
    assert class_conditional_norms(network) == [network.a, network.b]
    # groups=2: a's gains 4 and 2; b's 2-vectors as 2x1 columns: gain 1, bias 2
    expected = 4.0 ** 2 + 2.0 ** 2 + 1.0 ** 2 + 2.0 ** 2
    assert GroupSpectralPenalty(0.5, groups=2)(network).item() == pytest.approx(expected)


def tiny_cgan(**options):
    defaults = dict(num_classes=3, latent_dim=4, g_width=4, d_width=2, image_size=28,
                    grid_size=3, seed=0, g_conditioning="cbn")
    return ConditionalGAN(**{**defaults, **options})


def test_conditional_gan_adds_the_weighted_penalty_to_g_loss_and_descends_it():
    model = tiny_cgan(group_spectral_weight=0.25, group_spectral_groups=2)
    losses = {"loss": torch.zeros(())}
    model.add_generator_penalties(losses)
    by_hand = sum(
        np.linalg.svd(v.reshape(2, -1), compute_uv=False)[0] ** 2
        for norm in class_conditional_norms(model.generator)
        for embedding in (norm.gain, norm.bias)
        for v in embedding.weight.detach().double().numpy())
    assert losses["group_spectral"].item() == pytest.approx(by_hand, rel=1e-5)
    assert losses["loss"].item() == pytest.approx(0.25 * by_hand, rel=1e-5)

    # a gradient step on the term alone lowers it
    optimizer = torch.optim.SGD(model.generator.parameters(), lr=0.1)
    losses["loss"].backward()
    optimizer.step()
    after = GroupSpectralPenalty(1.0, 2)(model.generator).item()
    assert after < by_hand
    assert tiny_cgan().generator_penalties() == []  # off by default


def test_a_short_fit_logs_the_term(trainer_factory):
    model = tiny_cgan(num_classes=10, group_spectral_weight=0.1)
    data = ImageDataModule("digits", image_size=28, n_per_class=4, test_per_class=2,
                           batch_size=8, seed=0)
    trainer_factory(max_steps=4).fit(model, data)
    logged = model.trainer.logged_metrics
    assert torch.isfinite(logged["g/group_spectral"]) and logged["g/group_spectral"] > 0


@pytest.mark.parametrize(("options", "match"), [
    (dict(group_spectral_weight=0.1, g_conditioning="concat"), "needs g_conditioning='cbn'"),
    (dict(group_spectral_weight=0.1, group_spectral_groups=3), "divide every conditional"),
    (dict(group_spectral_weight=-1.0), "group_spectral_weight must be >= 0"),
])
def test_bad_options_are_refused(options, match):
    with pytest.raises(ValueError, match=match):
        tiny_cgan(**options)
