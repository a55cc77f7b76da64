"""A file-backed review queue is one queue only with one replica; a shared store is named by a DSN."""

from __future__ import annotations

import os
import subprocess

import pytest
from prometheus_client import CollectorRegistry

from bentos.classifier.runtime import ModelRuntime
from bentos.classifier.settings import ServerSettings
from slipway.errors import UsageError
from tests.bentos.conftest import Trained
from tests.conftest import PROJECT_DIR, SLIPWAY
from tests.wdbc import WDBC


def test_a_file_queue_with_more_replicas_is_refused() -> None:
    settings = ServerSettings(server_replicas=3, review_queue="sqlite:///var/lib/slipway/review/queue.db")
    with pytest.raises(UsageError, match="3 replicas would keep 3 separate queues"):
        settings.check_review_store()
    ServerSettings(server_replicas=1).check_review_store()
    ServerSettings(server_replicas=3, review_queue="postgresql://db/reviews").check_review_store()


def test_serve_refuses_at_start_with_one_clear_line(tmp_path: object) -> None:
    env = {**os.environ, "SLIPWAY_SERVER_REPLICAS": "2", "SLIPWAY_REVIEW_QUEUE": "sqlite:///tmp/q.db"}
    done = subprocess.run([SLIPWAY, "serve", "--port", "1"], env=env, cwd=PROJECT_DIR, capture_output=True, text=True,
                          check=False, timeout=60)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("slipway: error: the review queue /tmp/q.db is a file: 2 replicas would keep")
    assert "Traceback" not in done.stderr


def test_an_unreachable_shared_store_is_reported_without_its_password(home: object, trained: Trained) -> None:
    settings = ServerSettings(review_queue="postgresql://slipway:s3cret@127.0.0.1:9/reviews?connect_timeout=2")
    runtime = ModelRuntime.start(settings, CollectorRegistry(), WDBC)
    assert runtime.queue is None and runtime.queue_problem is not None
    assert runtime.queue_problem.startswith("review store postgresql://slipway:***@127.0.0.1:9/reviews")
    assert "s3cret" not in runtime.queue_problem
    assert runtime.readiness() is None  # the model serves; routed cases answer review_unavailable
