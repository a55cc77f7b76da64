"""The written form of a champion-challenger comparison: ``evaluation.json``, a Markdown summary
for reviewers, and a reliability plot of both models on the frozen set.

Usage::

    paths = write_report(report, Path("build/evaluation"))
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from slipway.output import atomic_output


def _markdown(report: dict[str, Any]) -> str:
    new, old = report["challenger"], report["champion"]
    verdict = "**passes**" if report["passed"] else "**does not pass**"
    lines = [
        f"# Challenger {new['tag']} against champion {old['tag']}",
        "",
        f"The challenger {verdict} the promotion criteria (version {report['criteria']['version']}, "
        f"`{report['criteria']['digest']}`) on the frozen evaluation set `{report['evaluation_set']['digest']}` "
        f"({report['evaluation_set']['rows']} cases).",
        "",
        "| check | passed | value | bound | detail |",
        "|---|---|---|---|---|",
    ]
    for check in report["checks"]:
        value = "—" if check["value"] is None else f"{check['value']:+.4f}"
        lines.append(f"| {check['name']} | {'yes' if check['passed'] else '**no**'} | {value} | "
                     f"{check['bound']:+.4f} | {check['detail']} |")  # fmt: skip
    if report["slices_not_checked"]:
        small = ", ".join(f"{s['slice']} ({s['n']})" for s in report["slices_not_checked"])
        lines += ["", f"Slices below the minimum count, not checked: {small}."]
    lines += [
        "",
        "| model | digest | accuracy | Brier | calibration z |",
        "|---|---|---|---|---|",
    ]
    for role in ("champion", "challenger"):
        m = report["metrics"][role]
        lines.append(f"| {role} {report[role]['tag']} | `{report[role]['digest'][:19]}…` | {m['accuracy']:.4f} | "
                     f"{m['brier']:.4f} | {m['calibration']['z']:+.2f} |")  # fmt: skip
    lines += ["", "![Reliability of both models on the frozen set](reliability.png)", ""]
    return "\n".join(lines)


def _reliability_png(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5, 5), dpi=100)
    axes.plot([0, 1], [0, 1], color="#888", linestyle="--", label="perfectly calibrated")
    for role, colour in (("champion", "#1f5f99"), ("challenger", "#c05a00")):
        bins = report["metrics"][role]["calibration"]["bins"]
        axes.plot([b["mean_confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o", color=colour,
                  label=f"{role} {report[role]['tag'].split(':')[-1]}")  # fmt: skip
    axes.set_xlabel("confidence (probability of the predicted class)")
    axes.set_ylabel("share correct")
    axes.set_xlim(0.45, 1.02)
    axes.set_ylim(0.0, 1.02)
    axes.legend(loc="lower right")
    axes.set_title("Reliability on the frozen evaluation set")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial.png")
    figure.savefig(partial)
    plt.close(figure)
    partial.replace(path)


def write_report(report: dict[str, Any], directory: Path) -> dict[str, str]:
    directory.mkdir(parents=True, exist_ok=True)
    _reliability_png(report, directory / "reliability.png")
    with atomic_output(directory / "evaluation.md") as stream:
        stream.write(_markdown(report))
    with atomic_output(directory / "evaluation.json") as stream:
        stream.write(json.dumps(report, indent=2) + "\n")
    return {name: str(directory / name) for name in ("evaluation.json", "evaluation.md", "reliability.png")}
