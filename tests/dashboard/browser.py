"""Headless Chromium from the machine's packages (Debian `chromium`, `chromium-driver`), driven
by selenium; no browser is downloaded."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
T = TypeVar("T")


def start_browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        "--force-device-scale-factor=1",
        "--lang=en-US",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_script_timeout(30)
    return driver


def wait_for(condition: Callable[[], T | None], what: str, timeout: float = 20) -> T:
    """Poll `condition` until it returns something truthy (a wait, not a timed assertion)."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as e:  # a node not there yet, or replaced mid-read
            last_error = e
        time.sleep(0.1)
    raise AssertionError(
        f"timed out waiting for {what}" + (f": {last_error!r}" if last_error else "")
    )


def console_errors(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    """Errors the page logged since the last call (reading the log empties it)."""
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def axe_violations(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the current page (WCAG 2 A/AA rules)."""
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
        ".then(r => done(JSON.stringify(r.violations)), e => done(JSON.stringify([{impact: 'critical', id: String(e)}])));"
    )
    violations: list[dict[str, Any]] = json.loads(result)
    return [v for v in violations if v.get("impact") in ("serious", "critical")]


def set_width(driver: webdriver.Chrome, width: int, height: int = 900) -> None:
    """Emulate a viewport exactly `width` CSS pixels wide (a phone at 360)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600,
    })  # fmt: skip


def screenshot(driver: webdriver.Chrome, path: Path, width: int) -> Path:
    """The whole page at `width` CSS pixels wide, as a PNG."""
    set_width(driver, width)
    time.sleep(0.5)  # the chart redraws on resize; a settle, not an assertion
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    set_width(driver, width, min(max(height, 600), 8000))
    time.sleep(0.5)
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
    return path
