"""Two-process (gloo) DDP run, by tests/test_metrics_ddp.py as a script. Each rank

1. fits a tiny ConditionalGAN for one epoch with the GenerativeMetrics callback (with a judge
   of class faithfulness) and the SelectGenerator callback, and
2. then, in the same process group, evaluates its own contiguous (unequal) part of a fixed set
   of real and generated images without any reference,

and saves the logged metrics, the counts, the EMA generator and the part results to
OUT/rank{r}.pt.
"""

import sys
from pathlib import Path

import lightning as L
import torch

from ganaug.metrics.selection import SelectGenerator

sys.path.insert(0, str(Path(__file__).parents[1]))
from metrics_data import (
    SPLIT,
    DigitJudge,
    make_evaluator,
    make_images,
    metrics_callback,
    tiny_cgan,
    tiny_digits,
)


def evaluate_part(rank: int) -> dict:
    real, real_labels, fake, fake_labels = make_images()
    part = slice(0, SPLIT) if rank == 0 else slice(SPLIT, None)
    evaluator = make_evaluator()
    for chunk, labels in zip(real[part].split(7), real_labels[part].split(7)):
        evaluator.update(chunk, real=True, labels=labels)
    for chunk, labels in zip(fake[part].split(9), fake_labels[part].split(9)):
        evaluator.update(chunk, real=False, labels=labels)
    result = evaluator.compute()  # gathers the other rank's part
    return {"values": result.values, "counts": result.counts}


def main(out: Path) -> None:
    torch.set_num_threads(1)
    model, data = tiny_cgan(), tiny_digits()
    callback = metrics_callback(out / "cache", judge=DigitJudge())
    selection = SelectGenerator(DigitJudge(), every_n_iterations=1, n_per_class=3)
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_epochs=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=str(out),
                        callbacks=[callback, selection])
    trainer.fit(model, data)
    logged = {k: float(v) for k, v in trainer.callback_metrics.items()}
    torch.save({"logged": logged, "counts": callback.last_result.counts,
                "generator_ema": model.generator_ema.state_dict(), "world_size": trainer.world_size,
                "parts": evaluate_part(trainer.global_rank),
                "selection": {"history": selection.history, "best": selection.best_iteration}},
               out / f"rank{trainer.global_rank}.pt")
    # leave together: a rank exiting while the other still talks to it can abort the process
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
