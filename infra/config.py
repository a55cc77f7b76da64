"""The stack's settings: one typed model, read once and passed down to every component.

Sources, highest precedence first:

1. ``SLIPWAY_<KEY>`` environment variables (``SLIPWAY_MODEL_REPLICAS=3``); structured keys take JSON
   in the same camelCase shape as the stack file (``SLIPWAY_ALLOW_INGRESS='[{"name": ...}]'``);
2. Pulumi stack configuration, ``slipway:<key>`` in ``Pulumi.<stack>.yaml``;
3. the defaults declared here (and mirrored in ``Pulumi.yaml``, which a test keeps in step).

Usage::

    settings = load_settings()          # inside `pulumi up` / `slipway render`
    settings.model_image_ref            # "registry.example/ml/classifier@sha256:..."

Any invalid or missing value raises :class:`SettingsError` naming the key, the value and the
allowed form, before a single resource is registered.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel, to_snake
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from slipway.errors import SlipwayError

PROJECT = "slipway"
ENV_PREFIX = "SLIPWAY_"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$")
_REGISTRY = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?$")
_IMAGE_REPO = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*)+$")
_CRON = re.compile(r"^(@(hourly|daily|weekly|monthly|yearly))|(\S+\s+\S+\s+\S+\s+\S+\s+\S+)$")
_FINGERPRINT = re.compile(r"^([0-9a-f]{2}:){31}[0-9a-f]{2}$|^[0-9a-f]{64}$")


class SettingsError(SlipwayError):
    """The stack configuration is invalid; the message lists every offending key."""


def _check(pattern: re.Pattern[str], form: str) -> AfterValidator:
    def validate(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"must be {form}")
        return value

    return AfterValidator(validate)


DnsLabel = Annotated[str, _check(_DNS_LABEL, "a DNS-1123 label (lowercase letters, digits and '-', ≤ 63)")]
Digest = Annotated[str, _check(_DIGEST, "a digest like sha256:<64 lowercase hex digits>")]
Quantity = Annotated[str, _check(_QUANTITY, "a Kubernetes quantity like 250m, 1, 512Mi or 2Gi")]
CronSchedule = Annotated[str, _check(_CRON, "a cron schedule with five fields, like '15 * * * *'")]


def _normalise_fingerprint(value: str) -> str:
    lowered = value.strip().lower()
    if not _FINGERPRINT.match(lowered):
        raise ValueError("must be a SHA-256 fingerprint: 64 hex digits, optionally colon-separated")
    return lowered.replace(":", "")


def _signature(value: str) -> str:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be the base64 Ed25519 signature printed by `slipway train`") from None
    if len(raw) != 64:
        raise ValueError(f"must decode to a 64-byte Ed25519 signature (got {len(raw)} bytes)")
    return value


def _public_key(value: str) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(value.encode())
    except ValueError:
        raise ValueError("must be a PEM public key (the signing.pub printed by `slipway keys show --pem`)") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("must be an Ed25519 public key")
    return value.strip() + "\n"


class _Section(BaseModel):
    """Structured config values: camelCase in stack files, snake_case in code, no unknown keys."""

    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, validate_by_alias=True, extra="forbid", frozen=True
    )


class ApprovedCluster(_Section):
    """A cluster the organisation approved: API server URL and the SHA-256 of its CA certificate."""

    name: DnsLabel
    server: str = Field(pattern=r"^https://[^\s/]+(/\S*)?$")
    ca_sha256: Annotated[str, AfterValidator(_normalise_fingerprint)]


REVIEW_STORE_EGRESS = "review-store"  # the allowEgress rule that reaches the PostgreSQL review store
ISSUER_EGRESS = "identity-provider"  # the allowEgress rule that reaches the issuer's JWKS endpoint


class PortSpec(_Section):
    port: int = Field(ge=1, le=65535)
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"


class AllowRule(_Section):
    """Declared intent: one peer that may talk to (ingress) or be called by (egress) a workload.

    Exactly one of ``namespace`` (optionally narrowed by ``podSelector``) or ``cidr`` names the peer.
    """

    name: DnsLabel
    namespace: DnsLabel | None = None
    pod_selector: dict[str, str] = Field(default_factory=dict)
    cidr: str | None = None
    ports: tuple[PortSpec, ...] = ()

    @field_validator("cidr")
    @classmethod
    def _valid_cidr(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(ipaddress.ip_network(value, strict=True))
        except ValueError:
            raise ValueError("must be a network in CIDR form like 10.20.0.0/16") from None

    @model_validator(mode="after")
    def _one_peer(self) -> AllowRule:
        if (self.namespace is None) == (self.cidr is None):
            raise ValueError("give exactly one of 'namespace' or 'cidr'")
        if self.cidr is not None and self.pod_selector:
            raise ValueError("'podSelector' only applies with 'namespace'")
        if self.cidr is not None and ipaddress.ip_network(self.cidr).prefixlen == 0:
            raise ValueError("a 0.0.0.0/0 or ::/0 peer is allow-all; name the network you mean")
        return self


class ClientNamespace(_Section):
    """A namespace for a team that calls the model; it gets the same compliant baseline."""

    name: DnsLabel
    owner: str = Field(min_length=1)
    data_classification: Literal["public", "internal", "confidential", "restricted"] = "confidential"


class StackSettings(BaseSettings):
    """Everything a stack can set. Field docs are the reference (mirrored in Pulumi.yaml)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True, case_sensitive=False)

    kubernetes_version: str = Field(
        "1.33", pattern=r"^1\.[0-9]{2}$", description="Kubernetes minor version of the target cluster."
    )
    namespace: DnsLabel = Field("slipway", description="Namespace of the model service and its jobs.")
    owner: str = Field("ml-platform", min_length=1, description="Owning team, set as the `owner` label.")
    data_classification: Literal["public", "internal", "confidential", "restricted"] = Field(
        "confidential", description="Data classification label of the model namespace."
    )
    approved_registries: tuple[str, ...] = Field(
        ("registry.localhost:5000",), min_length=1, description="Registries images may come from."
    )
    model_name: DnsLabel = Field("classifier", description="Name of the model service.")
    model_image: str = Field(
        "registry.localhost:5000/slipway/classifier",
        description="Model-server image repository, without tag or digest.",
    )
    model_image_digest: Digest = Field(description="Digest that pins the model-server image.")
    model_artifact_digest: Digest = Field(description="Digest of the signed model artifact.")
    model_signature: Annotated[str, AfterValidator(_signature)] = Field(
        description="Ed25519 signature of the model artifact (base64)."
    )
    model_public_key: Annotated[str, AfterValidator(_public_key)] = Field(
        description="PEM of the Ed25519 public key that verifies the model (mounted from a ConfigMap)."
    )
    keys_secret: DnsLabel = Field(
        "slipway-keys",
        description="Secret (made by your secret manager) with `review.key` and `data.key`, the Fernet keys at rest.",
    )
    signing_key_secret: DnsLabel = Field(
        "slipway-signing-key",
        description="Secret with `signing.key` (Ed25519 PKCS#8 PEM); mounted only into the retrain job.",
    )
    review_route: str = Field(
        "sqlite:///var/lib/slipway/review/queue.db",
        pattern=r"^sqlite:///var/lib/slipway/\S+$",
        description="SQLite review queue on the state volume, used when reviewStoreSecret is unset (one replica).",
    )
    review_store_secret: DnsLabel | None = Field(
        None,
        description="Secret whose key `dsn` is the PostgreSQL DSN of the shared review store (above one replica).",
    )
    auth_issuer: str | None = Field(
        None,
        pattern=r"^https://\S+$",
        description="OIDC issuer whose access tokens the service accepts (exact `iss`); unset: nobody can review.",
    )
    auth_jwks_url: str | None = Field(
        None, pattern=r"^https://\S+$", description="Where the issuer publishes its signing keys (JWKS)."
    )
    auth_audience: str = Field("slipway", min_length=1, description="The `aud` the API's access tokens carry.")
    auth_role_claim: str = Field(
        "roles", min_length=1, description="Claim path(s) with roles: roles, groups, realm_access.roles, ..."
    )
    auth_role_map: str | dict[str, list[str]] | None = Field(
        None, description='JSON: kit role -> claim values granting it, e.g. {"reviewer": ["/ml/reviewers"]}.'
    )
    auth_predict: bool = Field(False, description="Also require a `caller` token on /predict.")
    model_replicas: int = Field(
        2, ge=1, le=100, description="Replicas of the model service (HPA minimum; 1 only with the SQLite store)."
    )
    model_max_replicas: int = Field(4, ge=1, le=200, description="Upper bound for the autoscaler.")
    model_cpu_request: Quantity = Field("250m", description="CPU request per model-server container.")
    model_cpu_limit: Quantity = Field("1", description="CPU limit per model-server container.")
    model_memory_request: Quantity = Field("512Mi", description="Memory request per model-server container.")
    model_memory_limit: Quantity = Field("1Gi", description="Memory limit per model-server container.")
    autoscale_cpu_utilization: int = Field(70, ge=10, le=100, description="HPA target CPU utilisation, %.")
    spread_strict: bool = Field(
        False,
        description="Refuse to co-locate replicas on one node (DoNotSchedule) instead of preferring not to.",
    )
    quota_cpu: Quantity = Field("8", description="Namespace quota: total CPU limits.")
    quota_memory: Quantity = Field("16Gi", description="Namespace quota: total memory limits.")
    quota_pods: int = Field(30, ge=1, description="Namespace quota: number of pods.")
    storage_size: Quantity = Field("5Gi", description="Size of the jobs' persistent volume (pipeline state).")
    storage_class: str | None = Field(None, description="StorageClass of that volume (cluster default if unset).")
    prometheus_operator: bool = Field(False, description="Create a ServiceMonitor (else scrape annotations).")
    monitoring_namespace: DnsLabel = Field("monitoring", description="Namespace of the Prometheus that scrapes.")
    pushgateway: str | None = Field(
        None,
        pattern=r"^http://[a-z0-9]([a-z0-9.-]*[a-z0-9])?:[0-9]{1,5}$",
        description="Pushgateway the jobs push their metrics to (http://host:port, in monitoringNamespace).",
    )
    pipeline_schedule: CronSchedule = Field("15 * * * *", description="Cron schedule of the pipeline job.")
    drift_schedule: CronSchedule = Field("0 6 * * *", description="Cron schedule of the drift report job.")
    retrain_schedule: CronSchedule = Field(
        "0 3 * * 0", description="Schedule of the retraining job (created suspended; unsuspend to run)."
    )
    loop_prometheus: str | None = Field(
        None,
        pattern=r"^http://[a-z0-9]([a-z0-9.-]*[a-z0-9])?:[0-9]{1,5}$",
        description="Prometheus (http://host:port, in monitoringNamespace) the model-loop CronJob reads alerts from; "
        "unset = no loop CronJob.",
    )
    loop_schedule: CronSchedule = Field("*/30 * * * *", description="Cron schedule of the model-loop job.")
    loop_token_secret: str | None = Field(
        None, description="Secret with `token`: the model loop's own access token (it requests promotions as it)."
    )
    pipeline_config: str = Field(
        "sources:\n  - name: incoming\n    kind: files\n    path: /var/lib/slipway/incoming\n",
        min_length=1,
        description="YAML of the pipeline job's config (`slipway pipeline run --config`).",
    )
    kubeconfig: str | None = Field(None, description="Kubeconfig path (else $KUBECONFIG or ~/.kube/config).")
    kube_context: str | None = Field(None, description="Kubeconfig context (else its current-context).")
    approved_clusters: tuple[ApprovedCluster, ...] = Field(
        (), description="Clusters this stack may deploy to: [{name, server, caSha256}]."
    )
    allow_ingress: tuple[AllowRule, ...] = Field(
        (), description="Who may call the model service: [{name, namespace|cidr, podSelector, ports}]."
    )
    allow_egress: tuple[AllowRule, ...] = Field(
        (), description="What the model service may call: [{name, namespace|cidr, podSelector, ports}]."
    )
    jobs_allow_egress: tuple[AllowRule, ...] = Field(
        (), description="What the pipeline, drift and retraining jobs may call (data sources)."
    )
    client_namespaces: tuple[ClientNamespace, ...] = Field(
        (), description="Namespaces for calling teams, with the same baseline: [{name, owner, ...}]."
    )

    @field_validator("approved_registries")
    @classmethod
    def _registries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for registry in value:
            if not _REGISTRY.match(registry):
                raise ValueError(f"{registry!r} must be a registry host like registry.example.com[:port]")
        return value

    @field_validator("model_image")
    @classmethod
    def _image(cls, value: str) -> str:
        if not _IMAGE_REPO.match(value):
            raise ValueError("must be a repository like registry.example.com/team/model, with no tag or digest")
        return value

    def role_map(self) -> Any:
        """authRoleMap as given (Pulumi config may hand over the JSON already decoded)."""
        value = self.auth_role_map
        return json.loads(value) if isinstance(value, str) else (value or {})

    @model_validator(mode="after")
    def _auth_complete(self) -> StackSettings:
        if (self.auth_issuer is None) != (self.auth_jwks_url is None):
            raise ValueError("authIssuer and authJwksUrl go together (the issuer and where its keys are)")
        from slipway.identity import ROLES

        try:
            mapping = self.role_map()
        except ValueError:
            raise ValueError("authRoleMap must be a JSON object") from None
        if not isinstance(mapping, dict) or not all(isinstance(v, list) for v in mapping.values()):
            raise ValueError('authRoleMap must map roles to lists of claim values, e.g. {"reviewer": ["x"]}')
        unknown = sorted(set(mapping) - set(ROLES))
        if unknown:
            raise ValueError(f"authRoleMap names {unknown}, not roles of the kit ({', '.join(ROLES)})")
        return self

    @model_validator(mode="after")
    def _consistent(self) -> StackSettings:
        if self.model_image.split("/", 1)[0] not in self.approved_registries:
            raise ValueError(
                f"modelImage {self.model_image!r} is not from an approved registry {list(self.approved_registries)}"
            )
        if self.model_max_replicas < self.model_replicas:
            raise ValueError("modelMaxReplicas must be at least modelReplicas")
        if self.review_store_secret is None and self.model_max_replicas > 1:
            raise ValueError(
                f"a SQLite review queue ({self.review_route}) is one file per pod, not one queue: with "
                f"modelReplicas {self.model_replicas} / modelMaxReplicas {self.model_max_replicas} set "
                "reviewStoreSecret (a PostgreSQL DSN), or run one replica (modelReplicas = modelMaxReplicas = 1)"
            )
        egress = {rule.name for rule in self.allow_egress}
        for needed, why, required in (
            (self.review_store_secret is not None, "reviewStoreSecret", REVIEW_STORE_EGRESS),
            (self.auth_issuer is not None, "authIssuer", ISSUER_EGRESS),
        ):
            if needed and required not in egress:
                raise ValueError(
                    f"{why} is set, so the model service must reach it: declare an allowEgress rule named "
                    f"{required!r} (the database's or the issuer's namespace or CIDR and port); nothing else is opened"
                )
        if self.loop_prometheus is not None:
            if self.loop_token_secret is None or self.auth_issuer is None:
                raise ValueError("loopPrometheus is set, so the model loop runs as a verified subject: set "
                                 "loopTokenSecret (a Secret with its access token) and authIssuer")  # fmt: skip
            jobs_egress = {rule.name for rule in self.jobs_allow_egress}
            for needed, required in (
                (True, ISSUER_EGRESS),
                (self.review_store_secret is not None, REVIEW_STORE_EGRESS),
            ):
                if needed and required not in jobs_egress:
                    raise ValueError(f"the model loop must reach its {required}: declare a jobsAllowEgress rule "
                                     f"named {required!r}")  # fmt: skip
        for group in ("allow_ingress", "allow_egress", "jobs_allow_egress", "client_namespaces"):
            names = [item.name for item in getattr(self, group)]
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise ValueError(f"{to_camel(group)} has duplicate names {duplicates}")
        for rule in (*self.allow_egress, *self.jobs_allow_egress):
            if not rule.ports:
                raise ValueError(f"egress rule {rule.name!r} must list its ports: egress is never open-ended")
        clients = {c.name for c in self.client_namespaces}
        if self.namespace in clients:
            raise ValueError(f"clientNamespaces must not include the model namespace {self.namespace!r}")
        return self

    @property
    def model_image_ref(self) -> str:
        return f"{self.model_image}@{self.model_image_digest}"

    @property
    def shared_review_store(self) -> bool:
        return self.review_store_secret is not None

    @property
    def pod_security_version(self) -> str:
        """Pod Security admission labels are pinned to the cluster's minor version."""
        return f"v{self.kubernetes_version}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, PulumiConfigSource(settings_cls))


def config_key(field_name: str) -> str:
    """``model_image_digest`` -> ``slipway:modelImageDigest``."""
    return f"{PROJECT}:{to_camel(field_name)}"


class PulumiConfigSource(PydanticBaseSettingsSource):
    """Reads ``slipway:*`` keys from the Pulumi runtime's config (set by the engine or by render)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError  # __call__ reads every key at once

    def __call__(self) -> dict[str, Any]:
        return {field: value for field, value in read_pulumi_config().items() if value is not None}


def read_pulumi_config() -> dict[str, Any]:
    """All ``slipway:`` keys from the Pulumi runtime, decoded; unknown keys are an error."""
    from pulumi.runtime import config as runtime_config  # the engine passes config through this module

    # `pulumi up` hands config over as PULUMI_CONFIG (JSON); `slipway render` sets it in-process.
    raw: Mapping[str, str] = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    decoded: dict[str, Any] = {}
    unknown: list[str] = []
    fields = StackSettings.model_fields
    for key, value in raw.items():
        namespace, _, name = key.partition(":")
        if namespace != PROJECT:
            continue
        field = to_snake(name)
        if field not in fields or to_camel(field) != name:
            unknown.append(key)
            continue
        decoded[field] = _decode_config_value(value)
    if unknown:
        known = ", ".join(config_key(f) for f in fields)
        raise SettingsError(f"unknown config key(s) {', '.join(sorted(unknown))}; known keys: {known}")
    return decoded


def _decode_config_value(value: str) -> Any:
    """Pulumi passes every value as a string; structured values are JSON-encoded."""
    stripped = value.strip()
    if stripped[:1] in ("[", "{"):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            return value
    return value


def load_settings() -> StackSettings:
    """Build the settings from environment + Pulumi config, or raise one readable SettingsError."""
    try:
        return StackSettings()
    except ValidationError as exc:
        raise SettingsError(format_validation_error(exc)) from None


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem: ``slipway:modelImageDigest = 'latest': must be a digest like ...``."""
    problems = []
    for error in exc.errors(include_url=False):
        location = [str(part) for part in error["loc"]]
        if location:
            location[0] = config_key(location[0])
        key = ".".join(location) if location else f"{PROJECT}:<stack>"
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "missing":
            problems.append(f"{key} is required but not set (pulumi config set {key} <value>)")
        else:
            problems.append(f"{key} = {_short(error.get('input'))}: {message}")
    return "invalid stack configuration:\n  " + "\n  ".join(problems)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
