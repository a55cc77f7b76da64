"""A rehearsal: each workload's containers run in podman as the kubelet would, and judged.

Long-running workloads (Deployments, StatefulSets) are started, taken through their startup,
then readiness and liveness probes as declared, sent a real prediction when they serve a model,
and stopped with SIGTERM and the pod's grace period. Jobs run to completion within their
``activeDeadlineSeconds`` and must exit 0. Every container, volume and scratch file is removed
afterwards, whatever happened.

Usage::

    result = rehearse(Manifests.read(Path("build/manifests")), engine, images={...})
    result.ok
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from images.engine import Engine, EngineError
from infra.rehearse.manifests import Manifests, Workload
from infra.rehearse.pod import PodProblem, SecurityContext, command_args, env_args, port_of, resource_args
from infra.rehearse.probes import Probe, attempt, probes_of
from infra.rehearse.standins import StandIns
from infra.rehearse.volumes import VolumeContext, VolumeProblem, seed_claim, volume_args

SERVING_COMPONENT = "model-server"
CANNOT_SHOW = (
    "scheduling and node resources, NetworkPolicy enforcement, admission (Pod Security, policies), "
    "image pulls from the registry, Service routing, and the real Secrets' contents (stand-ins were used)"
)
Obj = dict[str, Any]


@dataclass
class WorkloadResult:
    workload: str
    started: bool = False
    ready_after: float | None = None
    probes: dict[str, str] = field(default_factory=dict)
    prediction: str | None = None
    output: str | None = None  # a job's last line of output
    exit_code: int | None = None
    stopped_cleanly: bool | None = None
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    log_tail: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "ok": self.ok,
            "started": self.started,
            "ready_after_seconds": None if self.ready_after is None else round(self.ready_after, 1),
            "probes": self.probes,
            "prediction": self.prediction,
            "output": self.output,
            "exit_code": self.exit_code,
            "stopped_cleanly": self.stopped_cleanly,
            "seconds": round(self.seconds, 1),
            "problems": self.problems,
            "log_tail": self.log_tail if self.problems else [],
        }


@dataclass
class RehearsalResult:
    workloads: list[WorkloadResult]
    standins: list[str]

    @property
    def ok(self) -> bool:
        return all(w.ok for w in self.workloads)

    def summary(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "workloads": [w.summary() for w in self.workloads],
            "secret_standins": self.standins,
            "not_shown": CANNOT_SHOW,
        }


@dataclass(frozen=True)
class Options:
    images: dict[str, str] = field(default_factory=dict)  # rendered image -> local reference
    seeds: tuple[tuple[str, str, Path], ...] = ()  # (claim, path inside it, local source)
    ready_timeout: float = 180.0
    observe: float | None = None  # seconds of liveness/readiness after ready (default: one period each)


class _Failed(Exception):
    pass


def rehearse(manifests: Manifests, engine: Engine, options: Options | None = None) -> RehearsalResult:
    options = options or Options()
    run_id = uuid.uuid4().hex[:8]
    standins = StandIns()
    scratch = Path(tempfile.mkdtemp(prefix=f"slipway-rehearsal-{run_id}-"))
    scratch.chmod(0o755)
    # seeded files get the fsGroup of the first workload that has one; each pod's own volumes get its own
    first_fs_group = next((g for w in manifests.workloads if (g := _fs_group(w)) is not None), None)
    ctx = VolumeContext(engine, scratch, run_id, manifests.config_maps, manifests.claims, standins, first_fs_group)
    results: list[WorkloadResult] = []
    try:
        for claim, relative, source in options.seeds:
            seed_claim(ctx, claim, relative, source)
        for workload in manifests.workloads:
            results.append(_rehearse_workload(workload, replace(ctx, fs_group=_fs_group(workload)), options))
    finally:
        engine.run(["rm", "--force", "--filter", f"label=dev.slipway.rehearsal={run_id}"], check=False)
        for volume in ctx.created_volumes:
            engine.run(["volume", "rm", "--force", volume], check=False)
        shutil.rmtree(scratch, ignore_errors=True)
    return RehearsalResult(results, standins.used)


def _fs_group(workload: Workload) -> int | None:
    group = (workload.pod.get("securityContext") or {}).get("fsGroup")
    return None if group is None else int(group)


def _rehearse_workload(workload: Workload, ctx: VolumeContext, options: Options) -> WorkloadResult:
    result = WorkloadResult(workload.label)
    started = time.monotonic()
    containers = workload.pod.get("containers") or []
    try:
        if workload.pod.get("initContainers"):
            raise _Failed("init containers are not rehearsed")
        if len(containers) != 1:
            raise _Failed(f"{len(containers)} containers: the rehearsal runs pods of exactly one container")
        container = containers[0]
        if workload.runs_to_completion:
            _run_job(workload, container, ctx, options, result)
        else:
            _run_server(workload, container, ctx, options, result)
    except (_Failed, PodProblem, VolumeProblem, EngineError) as exc:
        result.problems.append(str(exc))
    result.seconds = time.monotonic() - started
    return result


def _create_args(workload: Workload, container: Obj, ctx: VolumeContext, options: Options, name: str) -> list[str]:
    image = str(container.get("image"))
    local = options.images.get(image, image)
    info = ctx.engine.find_image(local)
    if info is None:
        raise _Failed(
            f"image {image} is not in local storage (ErrImageNeverPull): build and pin it with "
            "`slipway image build --stack <stack>`, or rehearse another with --image"
        )
    image_user = str((info.get("Config") or {}).get("User") or "")
    security = SecurityContext.of(workload.pod, container)
    before, after = command_args(container)
    args = [
        "--name",
        name,
        "--label",
        f"dev.slipway.rehearsal={ctx.run_id}",
        "--pull=never",
        "--hostname",
        workload.name,
        *security.args(image_user),
        *env_args(container, ctx.config_maps, ctx.standins, name, workload.namespace),
        *volume_args(ctx, workload.pod, container, name),
        *resource_args(container),
        *before,
    ]
    for port in container.get("ports") or []:
        args += ["--publish", f"127.0.0.1::{int(port['containerPort'])}/{str(port.get('protocol', 'TCP')).lower()}"]
    return [*args, local, *after]


def _logs(engine: Engine, name: str, lines: int = 15) -> list[str]:
    done = engine.run(["logs", "--tail", str(lines), name], check=False)
    return [line for line in (done.stdout + done.stderr).splitlines() if line.strip()][-lines:]


def _run_job(workload: Workload, container: Obj, ctx: VolumeContext, options: Options, result: WorkloadResult) -> None:
    name = f"rehearsal-{ctx.run_id}-{workload.name}"
    args = _create_args(workload, container, ctx, options, name)
    deadline = float(workload.deadline_seconds)
    ctx.engine.run(["create", *args])
    result.started = True
    try:
        done = ctx.engine.run(["start", "--attach", name], check=False, timeout=deadline)
    except EngineError:
        ctx.engine.run(["stop", "--time", "1", name], check=False)
        result.log_tail = _logs(ctx.engine, name)
        raise _Failed(f"did not finish within activeDeadlineSeconds ({deadline:.0f} s)") from None
    result.exit_code = _exit_code(ctx.engine, name, done.returncode)
    result.output = _last_output(done.stdout, done.stderr)
    if result.exit_code != 0:
        result.log_tail = _logs(ctx.engine, name)
        reason = " (OOMKilled: over its memory limit)" if _oom_killed(ctx.engine, name) else ""
        raise _Failed(f"exited {result.exit_code}{reason}: {result.log_tail[-1] if result.log_tail else 'no output'}")


def _last_output(stdout: str, stderr: str) -> str:
    """The job's result: its JSON report compacted, else its last line."""
    try:
        return json.dumps(json.loads(stdout), separators=(",", ":"))[:4000]
    except ValueError:
        lines = [line for line in (stdout + stderr).splitlines() if line.strip()]
        return lines[-1][:300] if lines else ""


def _exit_code(engine: Engine, name: str, fallback: int) -> int:
    done = engine.run(["inspect", "--format", "{{.State.ExitCode}}", name], check=False)
    return int(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip().isdigit() else fallback


def _oom_killed(engine: Engine, name: str) -> bool:
    done = engine.run(["inspect", "--format", "{{.State.OOMKilled}}", name], check=False)
    return done.stdout.strip() == "true"


def _running(engine: Engine, name: str) -> bool:
    done = engine.run(["inspect", "--format", "{{.State.Running}}", name], check=False)
    return done.stdout.strip() == "true"


def _host_port(engine: Engine, name: str, container: Obj) -> Callable[[Any], int]:
    cache: dict[int, int] = {}

    def lookup(port: Any) -> int:
        inside = port_of(container, port)
        if inside not in cache:
            done = engine.run(["port", name, f"{inside}/tcp"], check=False)
            if done.returncode != 0 or not done.stdout.strip():
                raise _Failed(f"port {inside} is not a declared containerPort: nothing could reach it")
            cache[inside] = int(done.stdout.strip().splitlines()[0].rsplit(":", 1)[1])
        return cache[inside]

    return lookup


def _run_server(
    workload: Workload, container: Obj, ctx: VolumeContext, options: Options, result: WorkloadResult
) -> None:
    engine = ctx.engine
    name = f"rehearsal-{ctx.run_id}-{workload.name}"
    args = _create_args(workload, container, ctx, options, name)
    engine.run(["run", "--detach", *args])
    result.started = True
    began = time.monotonic()
    try:
        host_port = _host_port(engine, name, container)
        probes = probes_of(container)
        if "startup" in probes:
            _until_passes(probes["startup"], engine, name, host_port, result, limit=None)
        if "readiness" in probes:
            _until_passes(probes["readiness"], engine, name, host_port, result, limit=options.ready_timeout)
            result.ready_after = time.monotonic() - began
        else:
            result.probes["readiness"] = "none declared: traffic would be sent as soon as it starts"
        _observe(probes, engine, name, host_port, result, options.observe)
        if (workload.pod_metadata.get("labels") or {}).get("app.kubernetes.io/component") == SERVING_COMPONENT:
            image = options.images.get(str(container["image"]), str(container["image"]))
            result.prediction = _predict(engine, image, name, host_port(container["ports"][0]["containerPort"]))
        _stop(engine, name, int(workload.pod.get("terminationGracePeriodSeconds", 30)), result)
    except _Failed:
        result.log_tail = _logs(engine, name)
        raise


def _until_passes(
    probe: Probe,
    engine: Engine,
    name: str,
    host_port: Callable[[Any], int],
    result: WorkloadResult,
    *,
    limit: float | None,
) -> None:
    """Startup: fail after failureThreshold misses (the kubelet restarts it). Readiness: no limit in
    Kubernetes (the pod just never gets traffic); the rehearsal gives up after ``limit``."""
    time.sleep(probe.initial_delay)
    began, failures, seen = time.monotonic(), 0, ""
    while True:
        if not _running(engine, name):
            code = _exit_code(engine, name, -1)
            raise _Failed(f"the container exited ({code}) before its {probe.kind} probe passed: CrashLoopBackOff")
        passed, seen = attempt(probe, host_port=host_port, engine=engine, container=name)
        if passed:
            result.probes[probe.kind] = f"passed after {failures} miss(es) ({probe.describe()})"
            return
        failures += 1
        if probe.kind == "startup" and failures >= probe.failure_threshold:
            raise _Failed(
                f"startup probe {probe.describe()} failed {failures} times ({seen}): the kubelet would kill and "
                "restart it, again and again (CrashLoopBackOff)"
            )
        if limit is not None and time.monotonic() - began > limit:
            raise _Failed(f"never ready within {limit:.0f} s: {probe.describe()} answered {seen}")
        time.sleep(probe.period)


def _observe(
    probes: dict[str, Probe],
    engine: Engine,
    name: str,
    host_port: Callable[[Any], int],
    result: WorkloadResult,
    observe: float | None,
) -> None:
    """Liveness and readiness at their periods for a while after ready: each must keep passing."""
    watched = [probes[k] for k in ("liveness", "readiness") if k in probes]
    if not watched:
        return
    window = observe if observe is not None else max(p.period for p in watched)
    due = {p.kind: time.monotonic() for p in watched}
    counts = {p.kind: [0, 0] for p in watched}  # passed, consecutive failures
    end = time.monotonic() + window
    while True:
        now = time.monotonic()
        for probe in watched:
            if now >= due[probe.kind]:
                passed, seen = attempt(probe, host_port=host_port, engine=engine, container=name)
                if passed:
                    counts[probe.kind] = [counts[probe.kind][0] + 1, 0]
                else:
                    counts[probe.kind][1] += 1
                    if counts[probe.kind][1] >= probe.failure_threshold:
                        action = "restarted" if probe.kind == "liveness" else "taken out of service"
                        raise _Failed(f"{probe.kind} probe {probe.describe()} failed ({seen}): it would be {action}")
                due[probe.kind] = now + probe.period
        if now >= end and all(c[0] > 0 for c in counts.values()):
            break
        if now >= end + 5 * max(p.period for p in watched):
            failing = [k for k, c in counts.items() if c[0] == 0]
            raise _Failed(f"{', '.join(failing)} probe never passed again after ready")
        time.sleep(max(0.05, min(due.values()) - time.monotonic()))
    for probe in watched:
        note = f"{counts[probe.kind][0]} passed ({probe.describe()}, every {probe.period:.0f} s)"
        result.probes[probe.kind] = (result.probes[probe.kind] + "; " if probe.kind in result.probes else "") + note


# Run inside the serving container (as `kubectl exec` would): the queue the server writes, read
# without the review API, which rightly refuses a caller without a reviewer's token.
_PENDING = (
    "from bentos.classifier.review_store import open_review_store\n"
    "from bentos.classifier.settings import ServerSettings\n"
    "s = ServerSettings()\n"
    "q = open_review_store(s, s.load_contract())\n"
    "print(' '.join(i.review_id for i in q.pending(limit=500)))\n"
)


def _predict(engine: Engine, image: str, container: str, port: int) -> str:
    """A real batch through the published port: it must be answered, and a high-stakes case queued for review
    (seen in the container's own queue: the review API needs a reviewer's token, which a rehearsal has not)."""
    done = engine.run(
        ["run", "--rm", "--pull=never", "--network=none", image, "python", "-m", "bentos.classifier.smoke"]
    )
    smoke = json.loads(done.stdout.strip().splitlines()[-1])
    base = f"http://127.0.0.1:{port}"
    try:
        answer = httpx.post(f"{base}/predict", json={"records": smoke["records"]}, timeout=30)
    except httpx.HTTPError as exc:
        raise _Failed(f"POST /predict failed: {type(exc).__name__}") from None
    if answer.status_code != 200:
        raise _Failed(f"POST /predict answered {answer.status_code}: {answer.text[:200]}")
    results = answer.json()["results"]
    high = [r for r in results if "high_stakes" in r["reasons"]]
    if not high or high[0]["decision"] != "review":
        seen = [(r["prediction"], r["decision"]) for r in results]
        raise _Failed(f"no high-stakes case was routed to review (answers: {seen})")
    review_id = str(high[0]["review_id"])
    unauthenticated = httpx.post(f"{base}/review/pending", json={}, timeout=10)
    if unauthenticated.status_code != 401:
        raise _Failed(f"/review/pending answered {unauthenticated.status_code} without a token (401 expected)")
    queued = engine.run(["exec", container, "python", "-c", _PENDING], check=False)
    if queued.returncode != 0 or review_id not in queued.stdout.split():
        raise _Failed(f"the review {review_id} is not in the container's queue ({queued.stderr.strip()[-200:]})")
    decisions = sorted({r["decision"] for r in results})
    routed = f"high-stakes {high[0]['prediction']} → review {review_id}"
    return f"{len(results)} answered ({', '.join(decisions)}); {routed}; the review API without a token: 401"


def _stop(engine: Engine, name: str, grace: int, result: WorkloadResult) -> None:
    began = time.monotonic()
    engine.run(["stop", "--time", str(grace), name], check=False, timeout=grace + 30)
    took = time.monotonic() - began
    result.exit_code = _exit_code(engine, name, -1)
    result.stopped_cleanly = took < grace and result.exit_code in (0, 143)
    if not result.stopped_cleanly:
        raise _Failed(
            f"did not stop within terminationGracePeriodSeconds ({grace} s) after SIGTERM "
            f"(exit {result.exit_code} after {took:.1f} s): the kubelet would SIGKILL it"
        )
