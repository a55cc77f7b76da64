"""Rendering works in a process that already ran an event loop: asyncio.run() unsets the thread's
loop, and Pulumi's runtime makes its futures on the current one."""

from __future__ import annotations

import asyncio

from infra.render import render_stack
from tests.conftest import PROJECT_DIR


def test_a_render_after_asyncio_run_works() -> None:
    async def nothing() -> None:
        return None

    asyncio.run(nothing())
    assert any(obj.kind == "Deployment" for obj in render_stack(PROJECT_DIR, "dev"))
