"""Drills: each failure mode of the catalog injected into real processes on 127.0.0.1, its alert
fired by a real Prometheus and delivered by a real Alertmanager to a webhook receiver, the runbook's
mitigation applied, and the resolved notification received (``slipway drill run``)."""
