"""`evalkit site build` without a browser: every page is written, links resolve,
nothing hostile survives unescaped, nothing is fetched from the network."""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from replay_runs import demo_store

from evalkit.report.site.build import checkpoint, json_script, slug
from evalkit.report.site.svg import Bar, Point, bar_chart, trend_chart


@pytest.fixture(scope="module")
def site(tmp_path_factory, data_dir):
    tmp = tmp_path_factory.mktemp("site")
    runs = demo_store(tmp, data_dir)
    from evalkit.report.site import build_site

    index = build_site(runs["store"], tmp / "site")
    return {**runs, "out": index.parent}


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[str] = []
        self.scripts: list[dict] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("href", "src"):
            if a.get(key):
                self.refs.append(a[key])
        if tag == "script":
            self.scripts.append(a)


def _pages(out: Path) -> list[Path]:
    return sorted(out.rglob("*.html"))


def test_pages_exist(site):
    out = site["out"]
    assert (out / "index.html").is_file() and (out / "charts.html").is_file()
    for rid in (site["gold"], site["pert"], site["evil"], site["group"], *site["ckpts"]):
        assert (out / "runs" / slug(rid) / "index.html").is_file()
    assert (out / "runs" / slug(site["pert"]) / "bbh_navigate.html").is_file()
    assert len(list((out / "runs" / slug(site["group"])).glob("bbh_*.html"))) == 27


def test_links_are_relative_and_resolve(site):
    for page in _pages(site["out"]):
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8"))
        for ref in parser.refs:
            assert not re.match(r"^[a-z]+:|^//", ref), (page, ref)  # no http:, file:, //cdn
            target = ref.split("#")[0]
            if target:
                assert (page.parent / target).resolve().is_file(), (page, ref)
        assert all(re.search(r"(assets/site|flips/[\w.-]+)\.js$", s.get("src", "")) or s.get("type") == "application/json"
                   for s in parser.scripts), (page, parser.scripts)


def test_hostile_text_is_escaped_everywhere(site):
    for page in _pages(site["out"]):
        text = page.read_text(encoding="utf-8")
        assert "<script>alert" not in text and "<img src=x" not in text and "<b>bold" not in text, page
    page = (site["out"] / "runs" / slug(site["pert"]) / "bbh_navigate.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(7)&gt;" in (site["out"] / "index.html").read_text(encoding="utf-8")
    svg = (site["out"] / "charts.html").read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=alert(7)&gt;" in svg


def test_every_page_has_a_strict_csp(site):
    for page in _pages(site["out"]):
        assert "default-src 'none'; script-src 'self'; style-src 'self'" in page.read_text(encoding="utf-8"), page


def test_samples_page_has_every_doc_and_the_flip_data(site):
    page = (site["out"] / "runs" / slug(site["pert"]) / "bbh_navigate.html").read_text(encoding="utf-8")
    assert len(re.findall(r'<details class="sample', page)) == 250
    assert len(re.findall(r'<details class="sample wrong', page)) == len(site["wrong"])
    assert '<script src="../../flips/bbh_navigate.js"></script>' in page
    flips = _flips(site["out"], "bbh_navigate")
    gold = next(f for f in flips if f["run"] == site["gold"])
    assert len(gold["scores"]) == 250 and all(v == 1.0 for v in gold["scores"].values())
    pert = next(f for f in flips if f["run"] == site["pert"])
    assert sorted(int(d) for d, v in pert["scores"].items() if v < 1) == sorted(d for _, d in site["wrong"])


def _flips(out: Path, task: str) -> list[dict]:
    text = (out / "flips" / f"{task}.js").read_text(encoding="utf-8")
    assert text.startswith("window.evalkitFlips = ") and "<" not in text
    return json.loads(text.removeprefix("window.evalkitFlips = ").rstrip().rstrip(";"))


def test_a_rebuild_renders_only_new_runs_and_changed_templates(tmp_path, data_dir, monkeypatch):
    from evalkit.report.site import build as site_build

    runs = demo_store(tmp_path, data_dir)
    site_build.build_site(runs["store"], tmp_path / "site")
    rendered: list[str] = []
    real = site_build._write_run
    monkeypatch.setattr(site_build, "_write_run", lambda st, env, folder, run, tasks, common: (
        rendered.append(run.run_id), real(st, env, folder, run, tasks, common)))
    site_build.build_site(runs["store"], tmp_path / "site")
    assert rendered == []  # nothing changed: every run's pages are current
    (tmp_path / "site" / "runs" / slug(runs["gold"]) / "index.html").unlink()
    site_build.build_site(runs["store"], tmp_path / "site")
    assert rendered == [runs["gold"]]  # a page gone from disk is written again
    rendered.clear()
    monkeypatch.setattr(site_build, "__version__", "99.0")
    site_build.build_site(runs["store"], tmp_path / "site")
    pages = list((tmp_path / "site" / "runs").glob("*/index.html"))
    assert len(rendered) == len(pages) >= 6  # another evalkit version renders every run again


def test_charts_have_bars_whiskers_and_a_checkpoint_trend(site):
    page = (site["out"] / "charts.html").read_text(encoding="utf-8")
    assert page.count('<svg class="chart bar-chart"') >= 4
    assert 'class="whisker"' in page
    assert "dummy:ckpt-* · bbh_navigate" in page and '<svg class="chart trend-chart"' in page


def test_leaderboard_on_index(site):
    page = (site["out"] / "index.html").read_text(encoding="utf-8")
    assert 'id="lb-reasoning"' in page and "No runs yet: agieval, math" in page


def test_json_script_cannot_close_the_tag():
    out = str(json_script({"x": "</script><script>alert(1)</script>", "y": "a&b\u2028"}))
    assert "<" not in out and ">" not in out and "&" not in out and "\u2028" not in out


def test_svg_escapes_labels():
    svg = bar_chart("t<x>", [Bar("<b>m</b>", 0.5, 0.1, "run <r>")])
    assert "<b>" not in svg and "&lt;b&gt;m&lt;/b&gt;" in svg and 'class="whisker"' in svg
    svg = trend_chart("t", [Point(1, "<s>", 0.2, 0.05), Point(2, "b", 0.4)])
    assert "<s>" not in svg and svg.count("<circle") == 2


@pytest.mark.parametrize("model,expected", [
    ("hf:out/ckpt-2000", ("hf:out/ckpt-*", 2000)),
    ("hf:org/model@step14000", ("hf:org/model@step*", 14000)),
    ("hf:runs/checkpoint_300/final", ("hf:runs/checkpoint_*/final", 300)),
    ("hf:gpt2", ("hf:gpt2", None)),
])
def test_checkpoint_parsing(model, expected):
    assert checkpoint(model) == expected


def test_slugs_are_safe_and_distinct():
    assert slug("20240101-abc") == "20240101-abc"
    a, b = slug("lm_eval:x/y"), slug("lm_eval:x?y")
    assert a != b and re.fullmatch(r"[A-Za-z0-9._-]+", a)


def test_cli_build_and_missing_store(cli, site, tmp_path):
    res = cli("site", "build", "--out", tmp_path / "s2", "--store", site["store"])
    assert res.code == 0 and (tmp_path / "s2" / "index.html").is_file(), res
    res = cli("site", "build", "--out", tmp_path / "s3", "--store", tmp_path / "nope.db")
    assert res.code != 0 and "no store at" in res.err and "Traceback" not in res.err

