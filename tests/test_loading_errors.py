"""Every file ganaug reads is refused with a message naming the file and the problem: missing,
crafted (in torch's zip format or its old one), truncated, not weights, or weights of another
architecture; through ``load_weights``, ``Trainer.fit(ckpt_path=...)`` (``SafeCheckpointIO``),
``ClassifierModule.load_from_checkpoint`` and ``ganaug evaluate --judge``, and the study's judge
and teachers. An executor reports the first line of a failed task's error."""

import pickle
import traceback

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from conftest import make_trainer
from ganaug.checkpoint_io import SafeCheckpointIO
from ganaug.classify import ClassifierModule
from ganaug.cli import main
from ganaug.data import LabelledImages
from ganaug.modules import ConditionalGAN, load_gan
from ganaug.serialization import (
    UnreadableFileError,
    WeightsMismatchError,
    load_file,
    load_weights,
)
from ganaug.study import Study, StudyConfig
from ganaug.study.config import DEFAULTS_BEFORE_0_2
from ganaug.study.executors import error_line


class CreatesAFile:
    """Unpickling this calls ``open(path, "w")``: the file exists iff the pickle ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def digits(n=16, size=28):
    pixels = torch.randint(0, 256, (n, 1, size, size), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    return LabelledImages(pixels, torch.arange(n) % 2, num_classes=2)


def tiny_classifier():
    return ClassifierModule(architecture="small_cnn", num_classes=2, channels=1, image_size=28,
                            classic_augment="none", seed=0)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A GAN and a classifier checkpoint, each also crafted (zip and old format) and truncated."""
    root = tmp_path_factory.mktemp("files")
    made = {}
    for name, model in (("gan", ConditionalGAN(num_classes=2, latent_dim=8, g_width=4,
                                               d_width=4, image_size=28, grid_size=2)),
                        ("classifier", tiny_classifier())):
        trainer = make_trainer(root / name, max_steps=2)
        trainer.fit(model, DataLoader(digits(), batch_size=8))
        path = root / f"{name}.ckpt"
        trainer.save_checkpoint(path)
        content = torch.load(path, weights_only=True)
        content["hyper_parameters"]["payload"] = CreatesAFile(root / "ran")
        torch.save(content, root / f"{name}-crafted.ckpt")
        torch.save(content, root / f"{name}-crafted-old.ckpt", _use_new_zipfile_serialization=False)
        data = path.read_bytes()
        (root / f"{name}-truncated.ckpt").write_bytes(data[: len(data) // 2])
        made[name] = path
    return root, made


def test_load_weights_names_the_file_and_the_problem(tmp_path):
    # missing, crafted, not a state dict
    with pytest.raises(FileNotFoundError, match="no judge at .*absent.pt"):
        load_weights(tmp_path / "absent.pt", nn.Linear(2, 3), kind="judge")
    torch.save({"weight": CreatesAFile(tmp_path / "ran")}, tmp_path / "crafted.pt")
    with pytest.raises(UnreadableFileError, match="refusing to load the judge .*crafted.pt"):
        load_weights(tmp_path / "crafted.pt", nn.Linear(2, 3), kind="judge")
    assert not (tmp_path / "ran").exists()
    torch.save([torch.zeros(3)], tmp_path / "list.pt")
    with pytest.raises(UnreadableFileError, match="list.pt holds a list, not the weights"):
        load_weights(tmp_path / "list.pt", nn.Linear(2, 3))

    # another architecture: which keys are missing, unexpected, or of another shape
    torch.save(nn.Linear(2, 3).state_dict(), tmp_path / "linear.pt")
    with pytest.raises(WeightsMismatchError,
                       match=r"linear.pt was written for another architecture than this Linear "
                             r"\(other shapes: weight \(file \(3, 2\), model \(4, 2\)\), "
                             r"bias \(file \(3,\), model \(4,\)\)\); delete it"):
        load_weights(tmp_path / "linear.pt", nn.Linear(2, 4), remedy="delete it")
    with pytest.raises(WeightsMismatchError,
                       match=r"Sequential \(missing: 0.weight, 0.bias; unexpected: weight, bias\)"):
        load_weights(tmp_path / "linear.pt", nn.Sequential(nn.Linear(2, 3)))

    # the right architecture loads, from a state dict or a Lightning checkpoint's
    source = nn.Linear(2, 3)
    torch.save({"state_dict": source.state_dict(), "epoch": 1}, tmp_path / "lightning.ckpt")
    for name, content in (("state.pt", source.state_dict()), ("lightning.ckpt", None)):
        if content is not None:
            torch.save(content, tmp_path / name)
        loaded = load_weights(tmp_path / name, nn.Linear(2, 3))
        assert torch.equal(loaded.weight, source.weight) and torch.equal(loaded.bias, source.bias)


def test_a_crafted_file_in_torchs_old_format_is_refused_as_crafted(files, tmp_path):
    """Memory-mapping (how a GAN checkpoint's class is read first) needs the zip format; a file
    of the old format is read whole, so it is refused for what it holds, not as corrupt."""
    root, made = files
    old = root / "gan-crafted-old.ckpt"
    for call in (lambda: load_file(old, mmap=True), lambda: load_gan(old),
                 lambda: ConditionalGAN.load_from_checkpoint(old)):
        with pytest.raises(UnreadableFileError, match=f"refusing to load .*{old.name}: it holds"):
            call()
    assert not (root / "ran").exists()
    # a checkpoint saved in the old format by a user loads
    torch.save(torch.load(made["gan"], weights_only=True), tmp_path / "old-format.ckpt",
               _use_new_zipfile_serialization=False)
    assert type(load_gan(tmp_path / "old-format.ckpt")) is ConditionalGAN


@pytest.mark.parametrize("family", ["gan", "classifier"])
@pytest.mark.parametrize("problem, message", [
    ("crafted", "refusing to load the checkpoint"), ("crafted-old", "refusing to load the checkpoint"),
    ("truncated", "cannot read the checkpoint")])
def test_fit_from_a_bad_ckpt_path_names_the_file(files, family, problem, message, tmp_path):
    root, _ = files
    path = root / f"{family}-{problem}.ckpt"
    model = (ConditionalGAN(num_classes=2, latent_dim=8, g_width=4, d_width=4, image_size=28,
                            grid_size=2) if family == "gan" else tiny_classifier())
    trainer = make_trainer(tmp_path, max_steps=3)
    with pytest.raises(UnreadableFileError, match=f"{message} {path}"):
        trainer.fit(model, DataLoader(digits(), batch_size=8), ckpt_path=path)
    assert isinstance(trainer.strategy.checkpoint_io, SafeCheckpointIO)
    assert not (root / "ran").exists()


def test_a_good_ckpt_path_resumes_through_the_safe_plugin(files, tmp_path):
    _, made = files
    model = tiny_classifier()
    trainer = make_trainer(tmp_path, max_steps=3)
    trainer.fit(model, DataLoader(digits(), batch_size=8), ckpt_path=made["classifier"])
    assert trainer.global_step == 3  # 2 steps in the checkpoint, one more here


def test_a_bad_judge_is_named_by_the_classifier_loader_and_the_command(files, tmp_path, capsys):
    root, made = files
    assert isinstance(ClassifierModule.load_from_checkpoint(made["classifier"]), ClassifierModule)
    for problem, message in (("crafted", "refusing to load the classifier checkpoint"),
                             ("truncated", "cannot read the classifier checkpoint")):
        path = root / f"classifier-{problem}.ckpt"
        with pytest.raises(UnreadableFileError, match=f"{message} {path}"):
            ClassifierModule.load_from_checkpoint(path)
        with pytest.raises(SystemExit) as stopped:
            main(["evaluate", str(made["gan"]), "--dataset", "digits", "--n-per-class", "4",
                  "--metrics", "", "--judge", str(path)])
        assert stopped.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith(f"ganaug: error: {message} {path}") and "Traceback" not in err
    with pytest.raises(ValueError, match=f"{made['gan']} is a checkpoint of a GAN "
                                         r"\(ganaug.modules.cgan.ConditionalGAN\), not of a "
                                         "ClassifierModule"):
        ClassifierModule.load_from_checkpoint(made["gan"])
    torch.save(tiny_classifier().state_dict(), tmp_path / "bare.pt")
    with pytest.raises(UnreadableFileError, match="bare.pt is not a Lightning checkpoint of a "
                                                  "ClassifierModule.*load_weights"):
        ClassifierModule.load_from_checkpoint(tmp_path / "bare.pt")
    assert not (root / "ran").exists()


def test_a_crafted_inception_weights_file_is_refused_before_torch_fidelity_reads_it(tmp_path):
    """torch-fidelity reads a local weights file with weights_only=False; ganaug reads it first."""
    from ganaug.metrics.extractors import InceptionV3

    torch.save({"fc.weight": CreatesAFile(tmp_path / "ran")}, tmp_path / "inception.pth")
    with pytest.raises(UnreadableFileError,
                       match=f"refusing to load the Inception weights file .*inception.pth"):
        InceptionV3(weights_path=str(tmp_path / "inception.pth"))
    assert not (tmp_path / "ran").exists()


STUDY = {**DEFAULTS_BEFORE_0_2, **dict(dataset="digits", image_size=28, n_per_class=4, test_per_class=3, seeds=[0],
             modes=["augment"], ratios=[0.5], classic_augment="flip", max_steps=3, batch_size=8,
             gan_options=dict(latent_dim=8, g_width=4, d_width=4, grid_size=10), gan_max_steps=4,
             gan_batch_size=8, accelerator="cpu", judge_per_class=2, curve_points=0)}


def test_the_studys_judge_and_teachers_are_read_naming_the_file(tmp_path):
    study = Study(StudyConfig.from_dict(STUDY), tmp_path, progress=False)
    judge, teacher = tmp_path / "judge.pt", tmp_path / "teachers" / "small_cnn-seed0.pt"
    teacher.parent.mkdir()
    for path, load in ((judge, study.judge), (teacher, lambda: study.teacher("small_cnn", 0))):
        torch.save({"w": CreatesAFile(tmp_path / "ran")}, path)
        with pytest.raises(UnreadableFileError, match=f"refusing to load the .* {path}"):
            load()
        torch.save(nn.Linear(2, 3).state_dict(), path)  # another architecture
        with pytest.raises(WeightsMismatchError,
                           match=f"{path} was written for another architecture .*missing: "
                                 ".*delete it"):
            load()
    assert not (tmp_path / "ran").exists()


def test_an_executor_reports_the_first_line_of_a_tasks_error():
    def fail():
        raise ValueError("the judge /s/judge.pt was written for another architecture\n"
                         "more detail on a second line")

    try:
        try:
            fail()
        except ValueError as error:
            raise RuntimeError("task judge failed") from error
    except RuntimeError as error:
        chained = "".join(traceback.format_exception(error))
    try:
        fail()
    except ValueError as error:
        single = "".join(traceback.format_exception(error))
    assert error_line(single) == \
        "ValueError: the judge /s/judge.pt was written for another architecture"
    assert error_line(chained) == "RuntimeError: task judge failed"
    assert error_line("BrokenProcessPool: a worker died\nmore") == "BrokenProcessPool: a worker died"
    assert error_line("") == "failed"
    assert pickle.loads(pickle.dumps(SafeCheckpointIO())) is not None  # travels to workers
