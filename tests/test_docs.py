"""The documentation site builds without warnings and its API pages come from the code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mkdocs")

ROOT = Path(__file__).resolve().parents[1]


def test_docs_build_strict(tmp_path: Path) -> None:
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # silence mkdocs-material's release notice
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"

    # The API pages are rendered by mkdocstrings from the package's docstrings.
    modules_page = (site / "api" / "modules" / "index.html").read_text(encoding="utf-8")
    augment_page = (site / "api" / "augment" / "index.html").read_text(encoding="utf-8")
    assert "build_generator" in modules_page
    assert "ConditionalGAN" in modules_page
    assert "DiffAugment" in augment_page
    assert "sample_parameters" in augment_page
