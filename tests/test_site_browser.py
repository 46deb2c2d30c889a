"""The built site in a real headless Chromium, loaded from file://: sort a table,
open a sample, filter wrong answers and flips, and fail on any console error.

CI needs: `apt-get install -y chromium chromium-driver` and `pip install playwright`
(never `playwright install`: the system browser is used). A missing browser fails
this test; it does not skip.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import REPO
from replay_runs import demo_store

from evalkit.report.compare import compare, load_run
from evalkit.report.site import build_site
from evalkit.report.site.build import slug

CHROMIUM = os.environ.get("EVALKIT_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: pip install playwright (the test drives the system Chromium)")
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install -y chromium chromium-driver (or set EVALKIT_CHROMIUM)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    problems: list[str] = []
    pg.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    pg.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    pg.on("request", lambda r: problems.append(f"network: {r.url}") if not r.url.startswith("file://") else None)
    pg.problems = problems  # type: ignore[attr-defined]
    yield pg
    ctx.close()
    assert problems == [], problems


@pytest.fixture(scope="module")
def site(tmp_path_factory, data_dir):
    tmp = tmp_path_factory.mktemp("browser")
    runs = demo_store(tmp, data_dir)
    boards = tmp / "leaderboards"  # the shipped boards plus one over the BBH subtasks these runs cover
    shutil.copytree(REPO / "leaderboards", boards)
    (boards / "subset.yaml").write_text(
        "title: BBH subset\ntasks:\n  - {task: bbh_navigate, name: Navigate}\n"
        "  - {task: bbh_boolean_expressions, name: Boolean}\naggregate: [macro, mean_rank, borda]\n")
    return {**runs, "out": build_site(runs["store"], tmp / "site", boards).parent}


def _column(page, table: str, col: int) -> list[str]:
    return page.eval_on_selector_all(f"#{table} tbody tr", f"rows => rows.map(r => r.cells[{col}].textContent.trim())")


def test_sort_open_filter_screenshot(page, site, tmp_path):
    out = site["out"]
    page.goto((out / "index.html").as_uri())
    assert page.title() == "evalkit · leaderboards"

    # sort the runs table by model, both ways
    models = _column(page, "runs-table", 1)
    expected = page.evaluate("ms => ms.slice().sort((a, b) => a.localeCompare(b))", models)
    page.click("#runs-table thead th:nth-child(2)")
    asc = _column(page, "runs-table", 1)
    assert asc == expected and asc != models
    page.click("#runs-table thead th:nth-child(2)")
    assert _column(page, "runs-table", 1) == asc[::-1]
    assert page.get_attribute("#runs-table thead th:nth-child(2)", "aria-sort") == "descending"

    # a leaderboard sorts numerically on its macro column (10.0 after 9.5, not before)
    header = page.eval_on_selector_all("#lb-subset thead th", "hs => hs.map(h => h.textContent.trim())")
    col = header.index("macro avg")
    page.click(f"#lb-subset thead th:nth-child({col + 1})")
    vals = [float(v.split()[0]) for v in _column(page, "lb-subset", col)]
    assert vals == sorted(vals) and len(set(vals)) >= 3
    page.click(f"#lb-subset thead th:nth-child({col + 1})")
    assert [float(v.split()[0]) for v in _column(page, "lb-subset", col)] == sorted(vals, reverse=True)
    assert page.locator("#lb-reasoning tbody tr").count() == 1  # the shipped board: only the bbh group run
    index_shot = tmp_path / "site-index.png"
    page.locator("#board-subset").screenshot(path=str(index_shot))
    (REPO / "out").mkdir(exist_ok=True)
    shutil.copyfile(index_shot, REPO / "out" / "site-screenshot-index.png")

    # index -> perturbed run -> its navigate samples
    page.click(f"text={site['pert']}")
    page.wait_for_load_state()
    page.click("#metrics-table a[href='bbh_navigate.html']")
    page.wait_for_load_state()  # a click waits for the navigation to commit, not for the page to finish parsing
    assert page.title().startswith("evalkit · bbh_navigate")
    total = page.locator("details.sample").count()
    assert total == 250

    page.check("#wrong-only")
    n_wrong = len(site["wrong"])
    assert page.locator("details.sample:not([hidden])").count() == n_wrong
    assert page.inner_text("#shown-count") == f"{n_wrong} of 250 shown"
    page.uncheck("#wrong-only")

    # flips against the gold run equal what `evalkit compare` reports
    page.select_option("#flip-run", site["gold"])
    diff = compare(load_run(site["gold"], site["store"]), load_run(site["pert"], site["store"]), ["bbh_navigate"])
    shown = page.eval_on_selector_all("details.sample:not([hidden])", "els => els.map(e => +e.dataset.doc)")
    assert sorted(shown) == diff.tasks[0].worse_ids and shown

    # open a sample with a hostile output: shown as text, never run
    first = page.locator("details.sample:not([hidden])").first
    first.locator("summary").click()
    assert first.get_attribute("open") is not None
    assert first.locator("pre.prompt").is_visible()
    assert '<script>alert("x")</script>' in first.locator("pre.output").inner_text()
    assert page.locator("#samples script, #samples img, #samples b").count() == 0
    assert "vs 1.00 ▼" in first.locator(".other").inner_text()

    shot = tmp_path / "site-screenshot.png"
    page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 10_000
    dest = REPO / "out" / "site-screenshot.png"
    dest.parent.mkdir(exist_ok=True)
    shutil.copyfile(shot, dest)


def test_search_and_deep_link(page, site):
    url = (site["out"] / "runs" / slug(site["gold"]) / "bbh_navigate.html").as_uri()
    page.goto(url + "#doc-17")
    assert page.get_attribute("#doc-17", "open") is not None
    page.fill("#sample-search", "zzz-not-anywhere")
    assert page.locator("details.sample:not([hidden])").count() == 0
    page.fill("#sample-search", "")
    assert page.locator("details.sample:not([hidden])").count() == 250


def test_every_page_loads_cleanly(page, site):
    out = site["out"]
    pages = [out / "index.html", out / "charts.html"] + sorted(out.glob("runs/*/index.html")) + \
        [out / "runs" / slug(site["pert"]) / "bbh_navigate.html", out / "runs" / slug(site["evil"]) / "bbh_navigate.html"]
    for p in pages:
        page.goto(p.as_uri())
        assert page.locator("header.top").is_visible(), p
    page.goto((out / "charts.html").as_uri())
    assert page.locator("svg.bar-chart").count() >= 4 and page.locator("svg.trend-chart").count() >= 1


def test_table_filter(page, site):
    page.goto((site["out"] / "index.html").as_uri())
    page.fill("input[data-filter-table='runs-table']", "ckpt-200")
    assert page.locator("#runs-table tbody tr:not([hidden])").count() == 1
