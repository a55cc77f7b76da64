"""``slipway rehearse``: every rendered workload run in a real container runtime as the kubelet would.

The pieces, one concept each: ``manifests`` (what render produced: workloads, ConfigMaps, claims),
``standins`` (fresh rehearsal values for every Secret key referenced — never real ones),
``pod`` (a pod spec and one container → the podman arguments that reproduce it), ``volumes``
(emptyDir, ConfigMap, Secret, projected and PVC sources made real), ``probes`` (startup,
liveness, readiness as declared), ``run`` (the workload's life: start, probe, predict, stop,
or run to completion) and ``cli``.

Nothing is imported here: the `slipway` CLI in the image loads this package's command, and the
image has no Kubernetes client (see images/requirements.py).
"""
