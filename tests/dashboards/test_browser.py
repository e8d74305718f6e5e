"""Drive the running dashboard in real Chromium (Debian /usr/bin/chromium + python playwright, no downloads).

Starts ``streamlit run`` on 127.0.0.1 (free port) over a hand-built snapshot, opens every page, applies a filter,
downloads an xlsx and reads it back, saves screenshots, checks that Chinese glyphs really render (no tofu boxes)
and that no raw phone number reaches the page.
"""

import io
import os
import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import openpyxl
import pytest
from snapshot_factory import DAC1, sample_tables, write_snapshot

from dashboards.cli import streamlit_command
from dashboards.i18n import t

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
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
PAGES = {
    "overview": "overview_title",
    "members": "members_title",
    "groups": "groups_title",
    "dac": "dac_title",
    "fission": "fission_title",
    "quality": "quality_title",
}
RAW_PHONE = re.compile(r"(?<![\d.])1[3-9]\d{9}(?![\d.])")  # not inside a decimal number


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium fonts-noto-cjk)")
    home = tmp_path_factory.mktemp("xhome")
    write_snapshot(home / "serving", sample_tables())
    port = _free_port()
    env = {**os.environ, "XIAOSHUJU_HOME": str(home), "XIAOSHUJU_HMAC_KEY": "test"}
    proc = subprocess.Popen(
        streamlit_command("127.0.0.1", port),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError(
                "streamlit did not start:\n" + proc.stdout.read1(20000).decode(errors="replace")
            )
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _open(page, url: str, title: str) -> None:
    page.goto(url)
    page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
    page.wait_for_load_state("networkidle")
    # Streamlit keeps a "running" indicator while the script runs
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
    )
    page.wait_for_timeout(1500)  # let Vega draw the charts before screenshots


def test_every_page_in_chromium(server, browser, tmp_path):
    # screenshots go to a tmp dir (or $XIAOSHUJU_SCREENSHOTS to keep them)
    shots = Path(os.environ.get("XIAOSHUJU_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 2400}, accept_downloads=True)
    texts = {}
    for pid, title_key in PAGES.items():
        _open(page, f"{server}/?page={pid}", t(title_key, "zh"))
        assert not page.locator("[data-testid='stException']").count(), pid
        page.screenshot(path=str(shots / f"{pid}.png"), full_page=True)
        texts[pid] = page.inner_text("body")
    assert all((shots / f"{p}.png").stat().st_size > 10_000 for p in PAGES)
    # no raw phone number anywhere on the rendered pages (the canary is shown masked)
    for pid, text in texts.items():
        assert not RAW_PHONE.search(text), (pid, RAW_PHONE.search(text).group(0))
    assert "僵尸群" in texts["groups"] and "数据质量" in texts["quality"]


def test_filter_download_and_cjk_rendering(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 2400}, accept_downloads=True)
    _open(page, f"{server}/?page=members", t("members_title", "zh"))

    # apply a filter in the UI: pick the first 大C in the sidebar selectbox; the URL follows
    box = page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").filter(
        has_text=t("filter_dac", "zh")
    )
    box.first.click()
    page.get_by_role("option").filter(has_text="(" + DAC1[-6:] + ")").first.click()
    page.wait_for_url(re.compile(r".*dac=" + DAC1), timeout=30_000)
    page.get_by_text(t("at_risk", "zh")).first.wait_for()
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
    )
    metric = page.locator("[data-testid='stMetric']").filter(has_text=t("members_count", "zh")).first
    assert metric.inner_text().split("\n")[-1].strip() == "6"  # 6 of the 12 members are served by DAC1
    page.screenshot(path=str(tmp_path / "members_dac1.png"), full_page=True)

    # download the at-risk member list as xlsx and read it back: its own button (keyed widgets carry the class
    # st-key-<key>), not "the last one" — while the page still draws, the last button drawn may be another table's
    button = page.locator(".st-key-xlsx_members_at_risk button")
    button.wait_for(timeout=60_000)
    assert button.inner_text().strip() == t("download_xlsx", "zh")
    with page.expect_download(timeout=60_000) as dl:
        button.click()
    path = tmp_path / "at_risk.xlsx"
    dl.value.save_as(path)
    rows = list(openpyxl.load_workbook(io.BytesIO(path.read_bytes())).active.iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert "会员ID" in header and "昵称（脱敏）" in header
    ids = sorted(r[header.index("会员ID")] for r in body)
    assert ids == ["m_0000000000000003", "m_0000000000000004", "m_0000000000000005"]
    assert all(r[header.index("昵称（脱敏）")] == "王*" for r in body)

    # Chinese glyphs render: with the title's font, two different CJK strings must draw different pixels
    # (missing glyphs draw identical tofu boxes) and differ from private-use code points (always tofu).
    result = page.evaluate("""() => {
        const h = document.querySelector('h1');
        const font = '32px ' + getComputedStyle(h).fontFamily;
        const draw = (s) => { const c = document.createElement('canvas'); c.width = 200; c.height = 50;
            const x = c.getContext('2d'); x.font = font; x.fillText(s, 0, 40);
            return Array.from(x.getImageData(0, 0, 200, 50).data).join(','); };
        return {a: draw('社群'), b: draw('会员'), tofu: draw('\\uE000\\uE001'), blank: draw(''),
                cjk_font: document.fonts.check('16px "Noto Sans CJK SC"')};
    }""")
    assert result["a"] != result["blank"]
    assert result["a"] != result["b"]
    assert result["a"] != result["tofu"]
