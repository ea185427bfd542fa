"""Two CPU processes (gloo): a BigGAN fit finishes, G, D and EMA G agree across ranks after it,
and the ranks drew different noise and fake classes."""

import torch

from tests_helpers import run_ddp_script


def test_two_process_ddp_fit(tmp_path):
    ranks = run_ddp_script("fit_biggan.py", tmp_path)
    assert all(r["world_size"] == 2 for r in ranks)
    # 80 training digits, 40 per rank, batches of 10: 4 D steps in the one epoch, 2 iterations
    assert [r["d_steps_done"] for r in ranks] == [4, 4]
    assert [r["iteration"] for r in ranks] == [2, 2]
    for name in ("generator", "discriminator", "generator_ema"):
        for key, value in ranks[0]["state"][name].items():
            if value.is_floating_point() and "running" not in key:  # BN stats are per rank
                assert torch.equal(value, ranks[1]["state"][name][key]), f"{name}.{key}"
    assert not torch.allclose(ranks[0]["first_noise"], ranks[1]["first_noise"])
    assert not torch.equal(ranks[0]["first_fake_labels"], ranks[1]["first_fake_labels"])
