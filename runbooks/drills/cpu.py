"""A CPU limit on a running process group, the way Kubernetes applies ``resources.limits.cpu``: a
cgroup's CFS quota (cgroup v2 ``cpu.max``, or v1 ``cpu.cfs_quota_us``). The kernel then throttles
the processes for the rest of each 100 ms period once they used their share, exactly as it throttles
a pod at its limit.

Usage::

    limit = CpuLimit.create("drill-slow")     # needs root and a writable cpu controller
    limit.add_tree(process.pid)               # it and every process it started
    limit.set(0.05)                           # 5 % of one CPU; limit.set(None) lifts it
    limit.remove()                            # processes back to the root group
"""

from __future__ import annotations

import os
from pathlib import Path

PERIOD_US = 100_000
V2, V1 = Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/cpu")


class CpuLimitUnavailable(RuntimeError):
    pass


def _descendants(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # it exited meanwhile
            ppid = int(stat.rsplit(")", 1)[1].split()[1])  # the command name may hold spaces and parentheses
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


class CpuLimit:
    def __init__(self, directory: Path, root: Path, version: int) -> None:
        self.directory, self.root, self.version = directory, root, version

    @classmethod
    def create(cls, name: str) -> CpuLimit:
        if (V2 / "cgroup.controllers").exists() and "cpu" in (V2 / "cgroup.controllers").read_text().split():
            root, version = V2, 2
        elif (V1 / "cpu.cfs_quota_us").exists():
            root, version = V1, 1
        else:
            raise CpuLimitUnavailable("no cgroup cpu controller (cgroup v2 cpu.max or v1 cpu.cfs_quota_us) here")
        directory = root / f"slipway-{name}-{os.getpid()}"
        try:
            directory.mkdir(exist_ok=True)
        except OSError as exc:
            raise CpuLimitUnavailable(f"cannot create the cgroup {directory} ({exc}); the drill needs root") from None
        return cls(directory, root, version)

    def add_tree(self, pid: int) -> int:
        """Move ``pid`` and every process descended from it in (a server and the workers it spawned,
        whatever their session); how many moved."""
        moved = 0
        for member in _descendants(pid):
            try:
                (self.directory / "cgroup.procs").write_text(str(member))
                moved += 1
            except OSError:
                continue  # it exited meanwhile
        return moved

    def set(self, cpus: float | None) -> None:
        quota = None if cpus is None else max(1000, int(cpus * PERIOD_US))
        if self.version == 2:
            (self.directory / "cpu.max").write_text(f"{'max' if quota is None else quota} {PERIOD_US}")
        else:
            (self.directory / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (self.directory / "cpu.cfs_quota_us").write_text(str(-1 if quota is None else quota))

    def remove(self) -> None:
        for pid in (self.directory / "cgroup.procs").read_text().split():
            try:
                (self.root / "cgroup.procs").write_text(pid)
            except OSError:
                continue  # it exited meanwhile
        self.directory.rmdir()
