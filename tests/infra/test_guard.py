"""Approved-cluster guard: the kubeconfig context must reach an approved server with the approved CA."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.config import ApprovedCluster
from infra.guard import ClusterNotApproved, verify_cluster
from tests.infra.kubeconfigs import make_ca, write_kubeconfig

SERVER = "https://prod.k8s.example.internal:6443"


@pytest.fixture
def prod_ca() -> tuple[bytes, str]:
    return make_ca("prod-ca")


def _approved(fingerprint: str, server: str = SERVER) -> list[ApprovedCluster]:
    return [ApprovedCluster(name="prod", server=server, ca_sha256=fingerprint)]


def test_accepts_the_approved_cluster(tmp_path: Path, prod_ca: tuple[bytes, str]) -> None:
    pem, fingerprint = prod_ca
    kubeconfig = write_kubeconfig(tmp_path / "config", {"prod": {"server": SERVER, "ca": pem}}, "prod")
    target = verify_cluster(_approved(fingerprint), kubeconfig=str(kubeconfig), context=None)
    assert target.cluster.name == "prod"
    assert target.context == "prod"
    assert target.kubeconfig_text == kubeconfig.read_text()


def test_accepts_colon_fingerprints_ca_files_and_equivalent_urls(tmp_path: Path, prod_ca: tuple[bytes, str]) -> None:
    pem, fingerprint = prod_ca
    colon = ":".join(fingerprint[i : i + 2] for i in range(0, 64, 2)).upper()
    kubeconfig = write_kubeconfig(
        tmp_path / "config", {"prod": {"server": SERVER + "/", "ca": pem}}, "prod", ca_files=True
    )
    target = verify_cluster(
        _approved(colon, server=SERVER.upper().replace("HTTPS", "https")),
        kubeconfig=str(kubeconfig),
        context=None,
    )
    assert target.cluster.name == "prod"


def test_refuses_a_cluster_with_another_ca(tmp_path: Path, prod_ca: tuple[bytes, str]) -> None:
    _, fingerprint = prod_ca
    impostor_pem, impostor_fingerprint = make_ca("impostor")
    kubeconfig = write_kubeconfig(tmp_path / "config", {"prod": {"server": SERVER, "ca": impostor_pem}}, "prod")
    with pytest.raises(ClusterNotApproved) as caught:
        verify_cluster(_approved(fingerprint), kubeconfig=str(kubeconfig), context=None)
    message = str(caught.value)
    assert "listed as approved cluster 'prod', but its CA certificate has SHA-256" in message
    assert impostor_fingerprint[:2].upper() in message


def test_refuses_an_unlisted_server(tmp_path: Path, prod_ca: tuple[bytes, str]) -> None:
    pem, fingerprint = prod_ca
    kubeconfig = write_kubeconfig(
        tmp_path / "config", {"laptop": {"server": "https://127.0.0.1:6443", "ca": pem}}, "laptop"
    )
    with pytest.raises(ClusterNotApproved, match=r"reaches https://127.0.0.1:6443, which is not an approved cluster"):
        verify_cluster(_approved(fingerprint), kubeconfig=str(kubeconfig), context=None)


def test_checks_the_context_it_was_told_to_use(tmp_path: Path, prod_ca: tuple[bytes, str]) -> None:
    pem, fingerprint = prod_ca
    other_pem, _ = make_ca("staging")
    clusters = {
        "prod": {"server": SERVER, "ca": pem},
        "staging": {"server": "https://staging:6443", "ca": other_pem},
    }
    kubeconfig = write_kubeconfig(tmp_path / "config", clusters, current="prod")
    assert verify_cluster(_approved(fingerprint), kubeconfig=str(kubeconfig), context="prod").context == "prod"
    with pytest.raises(ClusterNotApproved, match="context 'staging'"):
        verify_cluster(_approved(fingerprint), kubeconfig=str(kubeconfig), context="staging")


def test_uses_kubeconfig_env_when_no_path_is_configured(
    tmp_path: Path, prod_ca: tuple[bytes, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pem, fingerprint = prod_ca
    kubeconfig = write_kubeconfig(tmp_path / "config", {"prod": {"server": SERVER, "ca": pem}}, "prod")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    assert verify_cluster(_approved(fingerprint), kubeconfig=None, context=None).cluster.name == "prod"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"server": SERVER, "insecure": True}, "sets insecure-skip-tls-verify"),
        ({"server": SERVER, "ca": None}, "names no certificate authority"),
        (
            {"server": SERVER, "ca": b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"},
            "not a PEM",
        ),
    ],
)
def test_refuses_clusters_it_cannot_identify(
    tmp_path: Path, prod_ca: tuple[bytes, str], spec: dict[str, object], expected: str
) -> None:
    _, fingerprint = prod_ca
    kubeconfig = write_kubeconfig(tmp_path / "config", {"prod": spec}, "prod")
    with pytest.raises(ClusterNotApproved, match=expected):
        verify_cluster(_approved(fingerprint), kubeconfig=str(kubeconfig), context=None)


def test_refuses_when_nothing_is_approved(tmp_path: Path, prod_ca: tuple[bytes, str]) -> None:
    pem, _ = prod_ca
    kubeconfig = write_kubeconfig(tmp_path / "config", {"prod": {"server": SERVER, "ca": pem}}, "prod")
    with pytest.raises(ClusterNotApproved, match="no approved clusters configured"):
        verify_cluster([], kubeconfig=str(kubeconfig), context=None)


@pytest.mark.parametrize(
    ("content", "expected"),
    [(None, "cannot read kubeconfig"), ("{{{", "not valid YAML"), ("apiVersion: v1\n", "kubeconfig")],
)
def test_unusable_kubeconfigs_are_clear_errors(
    tmp_path: Path, prod_ca: tuple[bytes, str], content: str | None, expected: str
) -> None:
    _, fingerprint = prod_ca
    path = tmp_path / "config"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ClusterNotApproved, match=expected):
        verify_cluster(_approved(fingerprint), kubeconfig=str(path), context=None)
