"""Reading manifests: multi-document YAML, JSON, List objects, directories, and clear input errors."""

from __future__ import annotations

import json
from pathlib import Path

from policies.loader import load_paths, parse_text

POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: apps\nspec:\n  containers: []\n"


def test_multi_document_yaml_keeps_each_document_line() -> None:
    text = "# leading comment\n" + POD.format(name="a") + "---\n" + POD.format(name="b") + "---\n\n"
    objects, problems = parse_text(text, "pods.yaml")
    assert problems == []
    assert [(o.name, o.line) for o in objects] == [("a", 1), ("b", 10)]  # the line after "---"


def test_a_malformed_document_is_reported_and_the_others_still_load() -> None:
    text = POD.format(name="a") + "---\nkind: Pod\n  bad: [indent\n---\n" + POD.format(name="c")
    objects, problems = parse_text(text, "mixed.yaml")
    assert [o.name for o in objects] == ["a", "c"]
    (problem,) = problems
    assert problem.file == "mixed.yaml"
    assert problem.line in (9, 10)
    assert problem.message.startswith("invalid YAML")


def test_json_single_object_array_and_list_kind(tmp_path: Path) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
    (tmp_path / "one.json").write_text(json.dumps(pod))
    (tmp_path / "many.json").write_text(json.dumps([pod, pod]))
    (tmp_path / "list.yaml").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [pod]}))
    objects, problems = load_paths([str(tmp_path)])
    assert problems == []
    assert [o.file for o in objects] == [str(tmp_path / "list.yaml")] + [str(tmp_path / "many.json")] * 2 + [
        str(tmp_path / "one.json")
    ]


def test_invalid_json_has_a_line() -> None:
    objects, problems = parse_text('{\n  "kind": "Pod",\n  oops\n}', "broken.json")
    assert objects == []
    assert problems[0].line == 3 and "invalid JSON" in problems[0].message


def test_directories_are_read_in_name_order_and_hidden_entries_skipped(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text(POD.format(name="b"))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.yml").write_text(POD.format(name="a"))
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.yaml").write_text("not: a manifest")
    (tmp_path / ".slipway-render").write_text("marker")
    (tmp_path / "notes.txt").write_text("ignored")
    objects, problems = load_paths([str(tmp_path)])
    assert problems == []
    assert [o.name for o in objects] == ["b", "a"]


def test_non_objects_and_missing_files_are_problems(tmp_path: Path) -> None:
    (tmp_path / "values.yaml").write_text("replicas: 3\n")
    (tmp_path / "noname.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n")
    (tmp_path / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    _, problems = load_paths([str(tmp_path), str(tmp_path / "missing.yaml")])
    messages = {Path(p.file).name: p.message for p in problems}
    assert messages["values.yaml"] == "not a Kubernetes object (needs apiVersion and kind)"
    assert messages["noname.yaml"] == "ConfigMap has no metadata.name"
    assert messages["latin1.yaml"] == "not UTF-8 text"
    assert messages["missing.yaml"] == "no such file or directory"


def test_an_empty_directory_is_a_problem(tmp_path: Path) -> None:
    _, problems = load_paths([str(tmp_path)])
    assert problems[0].message == "directory holds no .yaml, .yml or .json file"


def test_byte_order_mark_is_accepted() -> None:
    objects, problems = parse_text("\ufeff" + POD.format(name="a"), "bom.yaml")
    assert problems == [] and objects[0].name == "a"


def test_helm_style_streams_report_each_object_at_its_document() -> None:
    text = "---\n# Source: chart/templates/a.yaml\n" + POD.format(name="a") + "--- # b\n" + POD.format(name="b")
    objects, problems = parse_text(text, "helm.yaml")
    assert problems == [] and [(o.name, o.line) for o in objects] == [("a", 2), ("b", 11)]


def test_many_malformed_documents_each_reported_at_its_line_the_rest_still_read() -> None:
    text = "".join("---\n" + POD.format(name=f"p{i}") + ("---\nbad: [\n" if i % 3 == 0 else "") for i in range(12))
    objects, problems = parse_text(text, "f.yaml")
    assert [o.name for o in objects] == [f"p{i}" for i in range(12)]
    assert len(problems) == 4 and all(p.message.startswith("invalid YAML") for p in problems)
    lines = text.splitlines()
    assert all(lines[p.line - 2] == "bad: [" for p in problems)  # where libyaml found the flow unclosed


def test_ten_thousand_documents_in_one_file_keep_their_lines() -> None:
    text = "".join("---\n" + POD.format(name=f"p{i}") for i in range(10_000))
    objects, problems = parse_text(text, "big.yaml")
    assert problems == [] and len(objects) == 10_000
    assert [o.line for o in objects[:3]] == [2, 10, 18] and objects[-1].line == 2 + 8 * 9_999
