"""Two CPU processes (gloo): a ConditionalGAN fit finishes, parameters agree across ranks after it,
and the ranks drew different noise."""

import torch

from tests_helpers import run_ddp_script


def test_two_process_ddp_fit(tmp_path):
    ranks = run_ddp_script("fit_cgan.py", tmp_path)
    assert all(r["world_size"] == 2 for r in ranks)
    # 160 training digits, 80 per rank, batches of 8: 10 D steps per epoch, 2 epochs
    assert [r["d_steps_done"] for r in ranks] == [20, 20]
    assert [r["iteration"] for r in ranks] == [10, 10]
    for name in ("generator", "discriminator", "generator_ema"):
        for key, value in ranks[0]["state"][name].items():
            # the live G's BN statistics are per rank; the EMA G's are averaged over ranks
            if value.is_floating_point() and ("running" not in key or name == "generator_ema"):
                assert torch.equal(value, ranks[1]["state"][name][key]), f"{name}.{key}"
    assert not torch.allclose(ranks[0]["first_noise"], ranks[1]["first_noise"])
