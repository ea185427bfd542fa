"""Imports point one way: nothing under ``ganaug/data`` imports the methods, metrics or study
that are built on it (checked on the source, function-local imports included)."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import ganaug

PACKAGE = Path(ganaug.__file__).parent
FORBIDDEN_FROM_DATA = ("ganaug.modules", "ganaug.metrics", "ganaug.study")


def imported_modules(source: str, module: str) -> set[str]:
    """Every module ``source`` (the file of ``module``) imports, wherever the import stands:
    ``import a.b``, ``from a import b`` (as ``a`` and ``a.b``), relative imports resolved, and
    ``importlib.import_module("a.b")`` with a literal name."""
    package = module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif (isinstance(node, ast.Call) and _called_name(node) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant)):
            found.add(str(node.args[0].value))
    return found


def _called_name(call: ast.Call) -> str:
    return getattr(call.func, "attr", getattr(call.func, "id", ""))


def offending(names: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if any(n == f or n.startswith(f + ".") for f in forbidden))


def test_the_checker_sees_imports_inside_functions_and_relative_ones():
    source = ("def load():\n    from ganaug.modules.loading import load_gan\n"
              "from ..metrics import scores\n"
              "import importlib\nimportlib.import_module('ganaug.study.runner')\n")
    names = imported_modules(source, "ganaug.data.blend")
    assert offending(names, FORBIDDEN_FROM_DATA) == [
        "ganaug.metrics", "ganaug.metrics.scores", "ganaug.modules.loading",
        "ganaug.modules.loading.load_gan", "ganaug.study.runner"]


def test_data_never_imports_modules_metrics_or_study():
    files = sorted((PACKAGE / "data").rglob("*.py"))
    assert files
    problems = {}
    for path in files:
        module = "ganaug." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        bad = offending(imported_modules(path.read_text(), module), FORBIDDEN_FROM_DATA)
        if bad:
            problems[str(path.relative_to(PACKAGE.parent))] = bad
    assert not problems, f"ganaug/data must not import these (load models outside data): {problems}"


def test_reading_a_dataset_imports_neither_lightning_nor_torchvision():
    # in a fresh interpreter: this one has imported everything already
    code = "\n".join([
        "import sys, ganaug.data",
        "from ganaug.data import LabelledImages, available_datasets, dataset_info, load_dataset",
        "infos = [dataset_info(n) for n in available_datasets() if n != 'image_folder']",
        "assert len(load_dataset('digits')) == 1797",
        "heavy = ('lightning', 'torchmetrics', 'torchvision')",
        "print(sorted(m for m in heavy if m in sys.modules))"])
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[]"


def test_every_public_name_of_the_lazy_packages_resolves():
    import ganaug.data

    for package in (ganaug, ganaug.data):
        names = [n for n in package.__all__ if not n.startswith("__")]
        assert sorted(names) == sorted(package._HOMES), package.__name__
        for name in names:
            assert getattr(package, name).__name__ == name
