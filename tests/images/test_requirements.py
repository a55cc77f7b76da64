"""The image installs what uv.lock pins, less the kit-only tools; the Bento carries the same pins."""

from __future__ import annotations

from images.requirements import BENTO_REQUIREMENTS, bento_requirements, kit_only_packages, runtime_packages


def test_the_bento_requirements_are_generated_from_the_lock() -> None:
    assert BENTO_REQUIREMENTS.read_text(encoding="utf-8") == bento_requirements(), (
        "bentos/classifier/requirements.txt is stale: run `python -m images.requirements`"
    )


def test_runtime_packages_serve_and_run_the_jobs_but_leave_the_kit_out() -> None:
    runtime = runtime_packages()
    for needed in ("bentoml", "scikit-learn", "polars", "pyarrow", "cryptography", "click", "matplotlib"):
        assert needed in runtime, needed
    left_out = set(kit_only_packages())
    for kit in ("pulumi", "pulumi-kubernetes", "kubernetes", "kubernetes-validate", "uv", "pytest"):
        assert kit in left_out and kit not in runtime, kit
    assert not left_out & set(runtime)
