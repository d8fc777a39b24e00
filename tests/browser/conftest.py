"""A real browser on the admin: Debian's `chromium` and `chromium-driver` (installed by .ci/run when missing),
driven by Selenium, headless. Without them the browser tests skip, unless BROWSER_TESTS_REQUIRED=1 (CI sets it),
which turns the skip into a failure: a CI without a browser must not pass the browser test by skipping it.

Screenshots are kept as test artifacts in `var/test-artifacts/` (or TEST_ARTIFACTS_DIR)."""

import os
import shutil
from pathlib import Path

import pytest

ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR", Path(__file__).resolve().parents[2] / "var" / "test-artifacts"))


def _binaries() -> tuple[str | None, str | None]:
    return shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")


@pytest.fixture
def browser():
    chromium, driver_path = _binaries()
    if not (chromium and driver_path):
        message = "Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("BROWSER_TESTS_REQUIRED") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.implicitly_wait(5)  # find_element waits for the page's elements, up to this, instead of sleeping
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def screenshot(browser, request):
    """`screenshot(name)` saves the current page as var/test-artifacts/<test>-<name>.png and returns the path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def save(name: str) -> Path:
        path = ARTIFACTS / f"{request.node.name}-{name}.png"
        browser.save_screenshot(str(path))
        return path

    return save
