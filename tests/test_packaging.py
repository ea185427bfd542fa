"""The release as a user installs it: a wheel built offline from this tree, its metadata, and
the ``ganaug`` command it installs into a fresh virtual environment.

The wheel is built without build isolation (the test environment's setuptools, no network) from
a copy of the package's sources, so the working tree gets no ``build/`` folder. The fresh venv
has no pip and no packages of its own: it sees this environment's dependencies (torch,
Lightning, ...) through a ``.pth`` line, and ganaug only through the wheel installed into it, so
``ganaug --help`` there runs the installed copy, not the editable one.
"""

from __future__ import annotations

import email.parser
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

import ganaug

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this tree, built offline from a copy of the files a build reads."""
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "ganaug", src / "ganaug",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = work / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--quiet", "-w", str(out), str(src)],
        check=True, env={**os.environ, "PIP_NO_INPUT": "1"},
    )
    (found,) = out.glob("ganaug-*.whl")
    return found


def test_version_is_the_release() -> None:
    assert ganaug.__version__ == "0.2.0"
    text = (ROOT / "pyproject.toml").read_text()
    # one source of the version: pyproject reads the attribute, it does not repeat the number
    assert 'dynamic = ["version"]' in text and 'attr = "ganaug.__version__"' in text
    assert "## [0.2.0] - " in (ROOT / "CHANGELOG.md").read_text()


def test_wheel_metadata(wheel: Path) -> None:
    assert wheel.name == f"ganaug-{ganaug.__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        info = f"ganaug-{ganaug.__version__}.dist-info"
        meta = email.parser.Parser().parsestr(z.read(f"{info}/METADATA").decode())
        entry_points = z.read(f"{info}/entry_points.txt").decode()
    assert meta["Name"] == "ganaug" and meta["Version"] == "0.2.0"
    assert meta["License-Expression"] == "MIT"
    assert f"{info}/licenses/LICENSE" in names
    assert any(r.startswith("torch>=") for r in meta.get_all("Requires-Dist"))
    assert "ganaug = ganaug.cli:main" in entry_points
    # every module of the source tree is in the wheel, and no test or benchmark
    sources = {p.relative_to(ROOT).as_posix() for p in (ROOT / "ganaug").rglob("*.py")}
    assert sources <= names and "ganaug/py.typed" in names
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)


def test_wheel_installs_and_runs(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    # the dependencies from this environment's site-packages, as a plain path (its .pth files,
    # among them the editable install of ganaug, are not processed from there)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # without PYTHONPATH: a source tree on it would count as ganaug already installed
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "--quiet", str(wheel)],
        check=True, env=env,
    )
    where = subprocess.run([str(python), "-c", "import ganaug; print(ganaug.__file__, ganaug.__version__)"],
                           check=True, capture_output=True, text=True, env=env, cwd=tmp_path)
    path, version = where.stdout.split()
    assert Path(path).is_relative_to(env_dir) and version == "0.2.0"
    command = env_dir / ("Scripts/ganaug.exe" if os.name == "nt" else "bin/ganaug")
    helped = subprocess.run([str(command), "--help"], check=True, capture_output=True, text=True,
                            env=env, cwd=tmp_path)
    text = helped.stdout + helped.stderr
    assert "study" in text and "fit" in text and "generate" in text
