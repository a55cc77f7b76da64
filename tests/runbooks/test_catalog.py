"""The catalog and its pages: every alert has a page, every page an alert, every page its sections."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from runbooks.catalog import CATALOG, load_catalog
from runbooks.generate import RULES, RUNBOOKS, SECTIONS
from slipway.errors import UsageError

ISSUE_FAILURE_MODES = {
    "ModelServerDown", "ModelErrorBudgetBurn", "ModelLatencyBudgetBurn", "LowConfidenceSpike", "FeatureDrift",
    "PredictionDrift", "OutOfDistributionSurge", "ReviewBacklogPastSLA", "ReviewStoreUnavailable",
    "DataSourceOffline", "DataStale", "SchemaDrift", "QuarantineRateHigh", "ModelSignatureInvalid",
    "RetrainingFailed", "PolicyGateFailed",
}  # fmt: skip


def _rules() -> list[dict[str, object]]:
    document = yaml.safe_load((RUNBOOKS / RULES).read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def _pages() -> list[Path]:
    return sorted(p for p in RUNBOOKS.glob("*/*.md"))


def test_the_catalog_covers_every_failure_mode_the_kit_promises() -> None:
    assert {m.alert for m in load_catalog().failure_modes} >= ISSUE_FAILURE_MODES


def test_every_alert_carries_severity_summary_description_and_a_runbook_url() -> None:
    catalog = load_catalog()
    pattern = re.escape(catalog.runbook_url).replace(r"\{component\}", "(?P<component>[^/]+)")
    pattern = pattern.replace(r"\{alert\}", "(?P<alert>[^/]+)")
    for rule in _rules():
        labels, annotations = rule["labels"], rule["annotations"]
        assert isinstance(labels, dict) and isinstance(annotations, dict)
        assert labels["severity"] in ("critical", "warning", "info")
        assert annotations["summary"] and annotations["description"]
        match = re.fullmatch(pattern, str(annotations["runbook_url"]))
        assert match, f"{rule['alert']}: runbook_url does not follow the configured pattern"
        assert match["alert"] == rule["alert"]
        page = RUNBOOKS / match["component"] / f"{match['alert']}.md"
        assert page.is_file(), f"{rule['alert']}: runbook_url leads nowhere ({page} is missing)"


def test_every_page_belongs_to_a_failure_mode_no_orphans() -> None:
    modes = {(m.component, m.alert) for m in load_catalog().failure_modes}
    pages = {(p.parent.name, p.stem) for p in _pages()}
    assert pages == modes
    alerts = {str(rule["alert"]) for rule in _rules()}
    signals = {m.alert for m in load_catalog().failure_modes if not m.is_alert}
    assert {stem for _, stem in pages} == alerts | signals


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.stem)
def test_every_page_has_the_sections_a_newcomer_needs(page: Path) -> None:
    text = page.read_text()
    assert text.splitlines()[0] == f"# {page.stem}"
    headings = re.findall(r"^## (.+)$", text, flags=re.MULTILINE)
    assert headings == list(SECTIONS)
    for title in SECTIONS:
        body = text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
        assert len(body.strip()) > 40, f"{page.stem}: section {title} is too thin to act on"
    diagnosis = text.split("## Diagnosis\n", 1)[1].split("\n## ", 1)[0]
    assert re.search(r"`(kubectl|slipway|pulumi|promtool|curl|sum|max|rate|sort_desc)[^`]*`", diagnosis), (
        f"{page.stem}: diagnosis names no concrete command"
    )


def test_handoff_guide_has_every_day_two_procedure() -> None:
    text = (RUNBOOKS / "HANDOFF.md").read_text()
    procedures = (
        "Deploy",
        "Roll back",
        "Retrain and promote",
        "Rotate the signing key",
        "Back up and restore the review queue",
        "Grant an exemption",
        "Hand the system to a new team",
    )
    for procedure in procedures:
        assert f"### {procedure}\n" in text
    assert "## What runs where" in text and "## Who owns what" in text


def test_every_relative_link_in_the_generated_docs_resolves() -> None:
    for document in [RUNBOOKS / "README.md", RUNBOOKS / "HANDOFF.md", *_pages()]:
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", document.read_text()):
            if "://" in target:
                continue
            assert (document.parent / target).exists(), f"{document.name}: link to {target} leads nowhere"


def _broken(tmp_path: Path, change: str, by: str) -> Path:
    text = CATALOG.read_text()
    assert change in text
    path = tmp_path / "catalog.yaml"
    path.write_text(text.replace(change, by, 1))
    return path


@pytest.mark.parametrize(
    ("change", "by", "message"),
    [
        (
            "    owner: ml-platform-oncall\n    drill: kill-model-server",
            "    owner: nobody\n    drill: kill-model-server",
            r"ModelServerDown: owner 'nobody' is not in owners",
        ),
        ("    for: 2m\n", "", r"ModelServerDown.*needs `for` and `tests`"),
        (
            "summary: The classifier has no instance Prometheus can scrape\n",
            'summary: "{{ $value }} instances up"\n',
            r"only use \{\{ \$labels.NAME \}\} templates",
        ),
        (
            'summary: "Feature {{ $labels.feature }}',
            'summary: "Feature {{ $labels.instance }}',
            r"FeatureDrift.*\$labels.instance, which tests.fires.labels does not give",
        ),
        ("  - alert: PredictionDrift", "  - alert: FeatureDrift", r"alert names must be unique"),
    ],
    ids=["unknown-owner", "alert-without-for", "unsupported-template", "label-not-produced", "duplicate-alert"],
)
def test_a_broken_catalog_is_refused_with_the_alert_named(tmp_path: Path, change: str, by: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        load_catalog(_broken(tmp_path, change, by))


def test_placeholders_stay_visible_in_rendered_markdown() -> None:
    """A bare <namespace> outside a code span is swallowed as an HTML tag by Markdown renderers."""
    for document in [RUNBOOKS / "README.md", RUNBOOKS / "HANDOFF.md", *_pages()]:
        prose = "".join(document.read_text().replace("<!--", "").split("`")[::2])
        assert not re.search(r"<[a-zA-Z][\w .-]*>", prose), f"{document.name}: a placeholder would vanish"
