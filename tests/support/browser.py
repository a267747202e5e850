"""Browser tests of the web console: Debian's Chromium driven by Playwright (no browser download),
the console built from ``web/src`` and served by a local cloud of the real template.

Fixtures (import them into a test module): ``console_stack`` (session: the built console, the
stack, the seeded PACS), ``browser`` (session) and ``page`` (per test: a fresh browser context,
so a fresh localStorage and sessionStorage, signed out; a screenshot, the page's HTML and its
console log go to ``test-artifacts/`` when the test fails). ``open_console`` signs in through the
login form, as a person would.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from localcloud.cloud import LocalCloud

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class ConsoleStack:
    cloud: LocalCloud
    url: str
    pacs: list[Any]  # pacs_api.seed.SeedOutcome of every seeded instance

    def instance(self, source: str) -> Any:
        return next(o for o in self.pacs if o.source == source)


def build_console() -> None:
    """``web/dist`` from ``web/src`` (the same command the Makefile runs; no dependencies)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: cannot build web/dist")
    subprocess.run([node, str(WEB / "build.mjs")], check=True, capture_output=True, timeout=60)


def console_stack(cloud: LocalCloud, pacs: list[Any]) -> ConsoleStack:
    """The session's stack as the console tests see it (the console is served when web/dist
    was built before the stack came up: see ``build_console``)."""
    if not CHROMIUM.is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    url = cloud.outputs.get("WebConsoleUrl")
    assert url, "the local cloud did not serve web/dist"
    return ConsoleStack(cloud=cloud, url=url, pacs=pacs)


def browser_fixture() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def page_fixture(request: pytest.FixtureRequest, browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(20_000)
    page = context.new_page()
    log: list[str] = []
    page.on("console", lambda message: log.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: log.append(f"pageerror: {error}"))
    failed_before = request.session.testsfailed
    try:
        yield page
    finally:
        # The call phase's report is counted before fixtures are torn down.
        if request.session.testsfailed > failed_before:
            save_artifacts(page, request.node.name, log)
        context.close()


def save_artifacts(page: Any, test_name: str, log: list[str]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    stem = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)
    try:
        page.screenshot(path=str(stem.with_suffix(".png")), full_page=True)
        stem.with_suffix(".html").write_text(page.content())
    except Exception as exc:  # a crashed page still leaves its log
        log.append(f"artifact capture failed: {exc}")
    stem.with_suffix(".log").write_text("\n".join(log) + "\n")


def open_console(page: Any, stack: ConsoleStack, user: Any) -> None:
    """Open the console and sign in as ``user`` (``.username``/``.password``) with the form."""
    page.goto(stack.url)
    page.wait_for_selector("body[data-ready=login]")
    sign_in(page, user.username, user.password)
    page.wait_for_selector("body[data-ready=true]")


def sign_in(page: Any, username: str, password: str) -> None:
    page.wait_for_selector("#login-form", state="visible")
    page.fill("#login-username", username)
    page.fill("#login-password", password)
    page.click("#login-submit")


def pick_instance(page: Any, stack: ConsoleStack, source: str) -> Any:
    """Browse the PACS to one seeded instance, the way a person would."""
    instance = stack.instance(source)
    study_button(page, instance.study_id).click()
    page.locator(f"#series button[data-uid='{instance.series_id}']").click()
    page.locator(f"#instances button[data-uid='{instance.instance_id}']").click()
    page.wait_for_selector(
        f"#instances button[data-uid='{instance.instance_id}'][aria-pressed=true]"
    )
    page.wait_for_selector("#preview[data-state=ready]")
    return instance


def study_button(page: Any, study_uid: str) -> Any:
    """A study in the PACS list: it shows description, date, modalities and counts; its UID is
    in ``data-uid``."""
    return page.locator(f"#studies button[data-uid='{study_uid}']")
