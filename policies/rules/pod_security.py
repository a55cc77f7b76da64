"""Pod Security Standards: every control of the baseline and restricted levels.

Semantics follow the upstream reference implementation (k8s.io/pod-security-admission, latest
policy version), including its version-dependent details, selected by the gate's
``podSecurityVersion``: safe sysctls by version, ``container_engine_t`` (1.31+), host in probes
and lifecycle handlers (1.34+), user-namespace relaxations (runAsNonRoot 1.34+, procMount 1.35+),
and Windows pods exempt from the Linux-only restricted checks (1.25+). Where a control has a rule
at each level (capabilities, seccomp, proc-mount) a violation names every level it breaks.
"""

from __future__ import annotations

from collections.abc import Iterator

from policies.config import GateConfig
from policies.k8s import PodView, mapping, sequence
from policies.model import Enforcement, Rule, Severity, Violation

BASELINE = ("baseline",)
RESTRICTED = ("restricted",)
BOTH = ("baseline", "restricted")
PSS_DOC = "https://kubernetes.io/docs/concepts/security/pod-security-standards/"

BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
SAFE_SYSCTLS_BY_VERSION = (
    (
        (1, 0),
        (
            "kernel.shm_rmid_forced",
            "net.ipv4.ip_local_port_range",
            "net.ipv4.tcp_syncookies",
            "net.ipv4.ping_group_range",
            "net.ipv4.ip_unprivileged_port_start",
        ),
    ),
    ((1, 27), ("net.ipv4.ip_local_reserved_ports",)),
    (
        (1, 29),
        (
            "net.ipv4.tcp_keepalive_time",
            "net.ipv4.tcp_fin_timeout",
            "net.ipv4.tcp_keepalive_intvl",
            "net.ipv4.tcp_keepalive_probes",
        ),
    ),
    ((1, 32), ("net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem")),
)
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
RESTRICTED_VOLUME_TYPES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


def _host_process(pod: PodView, config: GateConfig) -> Iterator[Violation]:
    if mapping(pod.security_context.get("windowsOptions")).get("hostProcess") is True:
        yield Violation(f"{pod.path}.securityContext.windowsOptions.hostProcess", "pod sets hostProcess=true", BASELINE)
    for c in pod.containers():
        if mapping(c.security_context.get("windowsOptions")).get("hostProcess") is True:
            yield Violation(
                f"{c.path}.securityContext.windowsOptions.hostProcess",
                f"container {c.name!r} sets hostProcess=true",
                BASELINE,
            )


def _host_namespaces(pod: PodView, config: GateConfig) -> Iterator[Violation]:
    for field_name in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.spec.get(field_name) is True:
            yield Violation(f"{pod.path}.{field_name}", f"pod sets {field_name}=true", BASELINE)


def _privileged(pod: PodView, config: GateConfig) -> Iterator[Violation]:
    for c in pod.containers():
        if c.security_context.get("privileged") is True:
            yield Violation(
                f"{c.path}.securityContext.privileged", f"container {c.name!r} sets privileged=true", BASELINE
            )


def _capabilities(pod: PodView, config: GateConfig) -> Iterator[Violation]:
    restricted_applies = not (pod.is_windows and config.pss_at_least(1, 25))
    for c in pod.containers():
        capabilities = mapping(c.security_context.get("capabilities"))
        added = [str(a) for a in sequence(capabilities.get("add"))]
        beyond_baseline = [a for a in added if a not in BASELINE_CAPABILITIES]
        if beyond_baseline:
            levels = BOTH if restricted_applies else BASELINE
            yield Violation(
                f"{c.path}.securityContext.capabilities.add",
                f"container {c.name!r} adds capabilities {beyond_baseline} beyond the baseline set",
                levels,
            )
        if not restricted_applies:
            continue
        beyond_restricted = [a for a in added if a != "NET_BIND_SERVICE" and a in BASELINE_CAPABILITIES]
        if beyond_restricted:
            yield Violation(
                f"{c.path}.securityContext.capabilities.add",
                f"container {c.name!r} adds {beyond_restricted}; restricted allows only NET_BIND_SERVICE",
                RESTRICTED,
            )
        if "ALL" not in [str(d) for d in sequence(capabilities.get("drop"))]:
            yield Violation(
                f"{c.path}.securityContext.capabilities.drop",
                f"container {c.name!r} must drop ALL capabilities",
                RESTRICTED,
            )


def _host_path(pod: PodView, config: GateConfig) -> Iterator[Violation]:
    for index, volume in enumerate(sequence(pod.spec.get("volumes"))):
        if isinstance(volume, dict) and "hostPath" in volume:
            yield Violation(
                f"{pod.path}.volumes[{index}].hostPath",
                f"volume {volume.get('name')!r} mounts a hostPath",
                BASELINE,
            )


def _host_ports(pod: PodView, config: GateConfig) -> Iterator[Violation]:
    for c in pod.containers():
        for index, port in enumerate(sequence(c.container.get("ports"))):
            host_port = mapping(port).get("hostPort")
            if host_port not in (None, 0):
                yield Violation(
                    f"{c.path}.ports[{index}].hostPort",
                    f"container {c.name!r} binds host port {host_port}",
                    BASELINE,
                )


def _host_probes(pod: PodView, config: GateConfig) -> Iterator[Violation]:
    if not config.pss_at_least(1, 34):
        return
    for c in pod.containers():
        handlers = [(p, mapping(c.container.get(p))) for p in ("livenessProbe", "readinessProbe", "startupProbe")]
        lifecycle = mapping(c.container.get("lifecycle"))
        handlers += [(f"lifecycle.{h}", mapping(lifecycle.get(h))) for h in ("postStart", "preStop")]
        for where, handler in handlers:
            for action in ("httpGet", "tcpSocket"):
                host = mapping(handler.get(action)).get("host")
                if host not in (None, ""):
                    yield Violation(
                        f"{c.path}.{where}.{action}.host",
                        f"container {c.name!r} points its {where} at host {host!r}",
                        BASELINE,
                    )


def _apparmor(pod: PodView, config: GateConfig) -> Iterator[Violation]:
    for key, value in pod.annotations.items():
        if str(key).startswith(APPARMOR_ANNOTATION) and not (
            value == "runtime/default" or str(value).startswith("localhost/")
        ):
            yield Violation(
                f"{pod.meta_path}.annotations['{key}']",
                f"AppArmor annotation sets {value!r}; allowed: runtime/default, localhost/*",
                BASELINE,
            )
    contexts = [(f"{pod.path}.securityContext", "pod", pod.security_context)]
    contexts += [(f"{c.path}.securityContext", f"container {c.name!r}", c.security_context) for c in pod.containers()]
    for path, who, context in contexts:
        profile_type = mapping(context.get("appArmorProfile")).get("type")
        if profile_type is not None and profile_type not in ("RuntimeDefault", "Localhost"):
            yield Violation(
                f"{path}.appArmorProfile.type",
                f"{who} sets appArmorProfile.type={profile_type!r}; allowed: RuntimeDefault, Localhost",
                BASELINE,
            )


def _selinux(pod: PodView, config: GateConfig) -> Iterator[Violation]:
    allowed = SELINUX_TYPES | ({"container_engine_t"} if config.pss_at_least(1, 31) else set())
    contexts = [(f"{pod.path}.securityContext", "pod", pod.security_context)]
    contexts += [(f"{c.path}.securityContext", f"container {c.name!r}", c.security_context) for c in pod.containers()]
    for path, who, context in contexts:
        options = mapping(context.get("seLinuxOptions"))
        selinux_type = options.get("type")
        if selinux_type is not None and selinux_type not in allowed:
            yield Violation(f"{path}.seLinuxOptions.type", f"{who} sets SELinux type {selinux_type!r}", BASELINE)
        for field_name in ("user", "role"):
            if options.get(field_name) not in (None, ""):
                yield Violation(
                    f"{path}.seLinuxOptions.{field_name}",
                    f"{who} sets SELinux {field_name} {options[field_name]!r}",
                    BASELINE,
                )


def _proc_mount(pod: PodView, config: GateConfig) -> Iterator[Violation]:
    baseline_relaxed = pod.in_user_namespace and config.pss_at_least(1, 35)
    for c in pod.containers():
        proc_mount = c.security_context.get("procMount")
        if proc_mount is not None and proc_mount != "Default":
            levels = RESTRICTED if baseline_relaxed else BOTH
            yield Violation(
                f"{c.path}.securityContext.procMount",
                f"container {c.name!r} sets procMount={proc_mount!r}",
                levels,
            )


def _seccomp(pod: PodView, config: GateConfig) -> Iterator[Violation]:
    restricted_applies = not (pod.is_windows and config.pss_at_least(1, 25))
    pod_type = mapping(pod.security_context.get("seccompProfile")).get("type")
    if pod_type == "Unconfined":
        levels = BOTH if restricted_applies else BASELINE
        yield Violation(f"{pod.path}.securityContext.seccompProfile.type", "pod sets seccomp Unconfined", levels)
    for c in pod.containers():
        container_type = mapping(c.security_context.get("seccompProfile")).get("type")
        path = f"{c.path}.securityContext.seccompProfile.type"
        if container_type == "Unconfined":
            levels = BOTH if restricted_applies else BASELINE
            yield Violation(path, f"container {c.name!r} sets seccomp Unconfined", levels)
        elif restricted_applies and container_type is None and pod_type not in ("RuntimeDefault", "Localhost"):
            if pod_type is None:
                message = f"pod or container {c.name!r} must set seccompProfile.type to RuntimeDefault or Localhost"
                yield Violation(path, message, RESTRICTED)
        elif restricted_applies and container_type not in (None, "RuntimeDefault", "Localhost", "Unconfined"):
            yield Violation(path, f"container {c.name!r} sets seccomp {container_type!r}", RESTRICTED)
    if restricted_applies and pod_type not in (None, "RuntimeDefault", "Localhost", "Unconfined"):
        yield Violation(f"{pod.path}.securityContext.seccompProfile.type", f"pod sets seccomp {pod_type!r}", RESTRICTED)


def _sysctls(pod: PodView, config: GateConfig) -> Iterator[Violation]:
    safe = {name for version, names in SAFE_SYSCTLS_BY_VERSION if config.pss_at_least(*version) for name in names}
    for index, sysctl in enumerate(sequence(pod.security_context.get("sysctls"))):
        name = mapping(sysctl).get("name")
        if name not in safe:
            yield Violation(
                f"{pod.path}.securityContext.sysctls[{index}].name",
                f"sysctl {name!r} is not in the safe set",
                BASELINE,
            )


def _volume_types(pod: PodView, config: GateConfig) -> Iterator[Violation]:
    for index, volume in enumerate(sequence(pod.spec.get("volumes"))):
        if not isinstance(volume, dict):
            continue
        sources = [key for key in volume if key != "name"]
        if not any(source in RESTRICTED_VOLUME_TYPES for source in sources):
            kinds = ", ".join(sources) or "no source"
            yield Violation(
                f"{pod.path}.volumes[{index}]",
                f"volume {volume.get('name')!r} uses {kinds}; restricted allows {sorted(RESTRICTED_VOLUME_TYPES)}",
                RESTRICTED,
            )


def _privilege_escalation(pod: PodView, config: GateConfig) -> Iterator[Violation]:
    if pod.is_windows and config.pss_at_least(1, 25):
        return
    for c in pod.containers():
        if c.security_context.get("allowPrivilegeEscalation") is not False:
            yield Violation(
                f"{c.path}.securityContext.allowPrivilegeEscalation",
                f"container {c.name!r} must set allowPrivilegeEscalation=false",
                RESTRICTED,
            )


def _run_as_non_root(pod: PodView, config: GateConfig) -> Iterator[Violation]:
    if pod.in_user_namespace and config.pss_at_least(1, 34):
        return
    pod_value = pod.security_context.get("runAsNonRoot")
    if pod_value is False:
        yield Violation(f"{pod.path}.securityContext.runAsNonRoot", "pod sets runAsNonRoot=false", RESTRICTED)
    for c in pod.containers():
        value = c.security_context.get("runAsNonRoot")
        path = f"{c.path}.securityContext.runAsNonRoot"
        if value is False:
            yield Violation(path, f"container {c.name!r} sets runAsNonRoot=false", RESTRICTED)
        elif value is None and pod_value is not True:
            yield Violation(path, f"pod or container {c.name!r} must set runAsNonRoot=true", RESTRICTED)


def _run_as_non_root_user(pod: PodView, config: GateConfig) -> Iterator[Violation]:
    if pod.in_user_namespace:
        return
    if pod.security_context.get("runAsUser") == 0:
        yield Violation(f"{pod.path}.securityContext.runAsUser", "pod sets runAsUser=0", RESTRICTED)
    for c in pod.containers():
        if c.security_context.get("runAsUser") == 0:
            yield Violation(f"{c.path}.securityContext.runAsUser", f"container {c.name!r} sets runAsUser=0", RESTRICTED)


def _pss(
    control: str,
    title: str,
    check: object,
    severity: Severity,
    cis: str | None,
    nist: str,
    remediation: str,
) -> Rule:
    controls = (*((f"cis-k8s:{cis}",) if cis else ()), f"nist-800-53:{nist}")
    return Rule(
        id=f"pod.{control}",
        title=title,
        severity=severity,
        enforcement=Enforcement.MANDATORY,
        concern=f"pss:{control}",
        controls=controls,
        remediation=remediation,
        doc_url=PSS_DOC,
        pod_check=check,  # type: ignore[arg-type]
    )


RULES = (
    _pss(
        "host-process",
        "Windows HostProcess containers are forbidden",
        _host_process,
        Severity.CRITICAL,
        "5.2.11",
        "AC-6",
        "Remove windowsOptions.hostProcess (or set it to false) on the pod and every container.",
    ),
    _pss(
        "host-namespaces",
        "Host namespaces are not shared",
        _host_namespaces,
        Severity.CRITICAL,
        "5.2.3",
        "SC-39",
        "Remove hostNetwork, hostPID and hostIPC from the pod spec (or set them to false).",
    ),
    _pss(
        "privileged",
        "Privileged containers are forbidden",
        _privileged,
        Severity.CRITICAL,
        "5.2.2",
        "AC-6",
        "Remove securityContext.privileged (or set it to false) on every container.",
    ),
    _pss(
        "capabilities",
        "Capabilities are dropped and not added",
        _capabilities,
        Severity.HIGH,
        "5.2.9",
        "AC-6",
        "Set securityContext.capabilities.drop: [ALL]; add back NET_BIND_SERVICE at most.",
    ),
    _pss(
        "host-path",
        "HostPath volumes are forbidden",
        _host_path,
        Severity.HIGH,
        "5.2.12",
        "AC-6",
        "Replace hostPath volumes with emptyDir, configMap, secret or a PersistentVolumeClaim.",
    ),
    _pss(
        "host-ports",
        "Host ports are forbidden",
        _host_ports,
        Severity.HIGH,
        "5.2.13",
        "SC-7",
        "Remove ports[*].hostPort and expose the workload through a Service.",
    ),
    _pss(
        "host-probes",
        "Probes and lifecycle handlers do not target other hosts",
        _host_probes,
        Severity.MEDIUM,
        None,
        "SC-7",
        "Remove the host field from httpGet/tcpSocket probes and lifecycle handlers.",
    ),
    _pss(
        "apparmor",
        "AppArmor is not disabled",
        _apparmor,
        Severity.HIGH,
        None,
        "SC-39",
        "Use appArmorProfile.type RuntimeDefault or Localhost (or drop the AppArmor override).",
    ),
    _pss(
        "selinux",
        "SELinux options stay within the allowed types",
        _selinux,
        Severity.HIGH,
        None,
        "AC-3",
        "Remove seLinuxOptions.user/role and use an allowed seLinuxOptions.type (or none).",
    ),
    _pss(
        "proc-mount",
        "The default /proc masks are kept",
        _proc_mount,
        Severity.HIGH,
        None,
        "SC-39",
        "Remove securityContext.procMount (or set it to Default).",
    ),
    _pss(
        "seccomp",
        "A seccomp profile confines every container",
        _seccomp,
        Severity.HIGH,
        "5.7.2",
        "SC-39",
        "Set securityContext.seccompProfile.type: RuntimeDefault on the pod.",
    ),
    _pss(
        "sysctls",
        "Only safe sysctls are set",
        _sysctls,
        Severity.HIGH,
        None,
        "CM-7",
        "Remove sysctls outside the Pod Security safe set.",
    ),
    _pss(
        "volume-types",
        "Only restricted volume types are used",
        _volume_types,
        Severity.MEDIUM,
        None,
        "CM-7",
        "Use configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected or secret volumes.",
    ),
    _pss(
        "privilege-escalation",
        "Privilege escalation is disallowed",
        _privilege_escalation,
        Severity.HIGH,
        "5.2.6",
        "AC-6",
        "Set securityContext.allowPrivilegeEscalation: false on every container.",
    ),
    _pss(
        "run-as-non-root",
        "Containers run as non-root",
        _run_as_non_root,
        Severity.HIGH,
        "5.2.7",
        "AC-6",
        "Set securityContext.runAsNonRoot: true on the pod (and never false on a container).",
    ),
    _pss(
        "run-as-non-root-user",
        "Containers do not run as uid 0",
        _run_as_non_root_user,
        Severity.HIGH,
        "5.2.7",
        "AC-6",
        "Set securityContext.runAsUser to a non-zero uid (10000 or above) or leave it unset.",
    ),
)
