"""Headless Chromium driven over its DevTools protocol (tornado's websocket client): for pages
whose content a script builds over a websocket after the load (VS Code, Shiny), which
`chromium --dump-dom` dumps before it is there."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from tornado.websocket import websocket_connect

from tests.helpers import SYSTEM_PATH, free_ports


def chromium() -> str:
    found = shutil.which("chromium", path=SYSTEM_PATH)
    if not found:
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser check, but Debian's chromium is not installed")
        pytest.skip("the browser check needs Debian's chromium (apt-get install chromium)")
    return found


# jupyter-server-proxy (4.6.0, the newest) logs a traceback when the daemon's message arrives for a
# browser websocket already closed (VS Code closes and reopens its own as it starts; any page does
# when it is left): harmless, and not deepdocker's. The lines, for Containers.run(expected=...).
PROXY_CLOSED = (
    r"^jupyter +\| \[E [^]]* ServerApp\] Uncaught exception$",
    r"^jupyter +\|     Traceback \(most recent call last\):$",
)


def watch(
    url: str, expression: str, profile: Path, timeout: float = 90, before: tuple[str, ...] = ()
) -> tuple[Any, list[str]]:
    """Open each of `before` in turn (each until it has loaded), then `url`, and evaluate
    `expression` every half second until it gives a truthy value: (that value, or the last one at
    the timeout; the page's uncaught exceptions)."""
    (port,) = free_ports(1)
    browser = subprocess.Popen(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         f"--user-data-dir={profile}", f"--remote-debugging-port={port}", "--window-size=1400,1000", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        return asyncio.run(_watch(port, url, expression, timeout, before))
    finally:
        browser.terminate()
        browser.wait(30)


async def _watch(
    port: int, url: str, expression: str, timeout: float, before: tuple[str, ...]
) -> tuple[Any, list[str]]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=5) as r:
                page = next(t for t in json.load(r) if t["type"] == "page")
            break
        except (OSError, StopIteration):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
    ws = await websocket_connect(page["webSocketDebuggerUrl"], max_message_size=1 << 27)
    errors: list[str] = []
    calls = 0

    async def call(method: str, **params: Any) -> dict:
        nonlocal calls
        calls += 1
        await ws.write_message(json.dumps({"id": calls, "method": method, "params": params}))
        while True:
            message = json.loads(await ws.read_message())
            if message.get("method") == "Runtime.exceptionThrown":
                errors.append(message["params"]["exceptionDetails"].get("text", "?"))
            if message.get("id") == calls:
                return message.get("result", {})

    await call("Runtime.enable")
    for first in before:
        await call("Page.navigate", url=first)
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            state = await call("Runtime.evaluate", expression="document.readyState", returnByValue=True)
            if state["result"].get("value") == "complete":
                break
    await call("Page.navigate", url=url)
    value = None
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        value = (await call("Runtime.evaluate", expression=expression, returnByValue=True))["result"].get("value")
        if value:
            break
    ws.close()
    return value, errors
