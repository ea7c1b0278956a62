"""report.md, plots and report.html; the page is tested in headless Chromium: it loads without
console errors, the outcome filter shows the right counts, a screenshot is taken, and hostile
model text planted in every field never runs."""

from __future__ import annotations

import struct
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chromium import Chromium, find_chromium
from tests.conftest import skip_or_fail
from tests.rundata import S, write_run
from verigen.report import write_report
from verigen.types import Outcome

HOSTILE = [
    "<script>window.__pwned = 'script'</script>",
    '<img src=x onerror="window.__pwned = \'img\'">',
    '<a href="javascript:window.__pwned=\'link\'" id="evil">click me</a>',
    "</script><script>window.__pwned = 'break'</script>",
    "<svg onload=\"window.__pwned='svg'\"></svg><iframe src=\"javascript:parent.__pwned='iframe'\"></iframe>",
    "__PAYLOAD__ __JS__ ${window.__pwned='tpl'} <style>body{display:none}</style>",
]
OUTCOMES = list(Outcome)


def _run(path: Path, problems: int = 40, n: int = 5) -> tuple[Path, Counter[str]]:
    h = len(HOSTILE)
    probs = [(f"task/{i}" + HOSTILE[i % h], f"What is {i} + {i}? {HOSTILE[(i + 1) % h]}") for i in range(problems)]
    samples, counts = [], Counter[str]()
    for i in range(problems):
        for j in range(n):
            outcome = OUTCOMES[(i * 3 + j) % 5]
            counts[outcome.value] += 1
            samples.append(S(problem=probs[i][0], index=j, outcome=outcome,
                             text=f"Step {j}: {HOSTILE[(i + j) % len(HOSTILE)]} so \\boxed{{{2 * i}}}",
                             answer=HOSTILE[(i + 2 * j) % len(HOSTILE)], detail=HOSTILE[(i + j + 3) % len(HOSTILE)]))
    return write_run(path, probs, samples, model="fake:<b>model</b>" + HOSTILE[0]), counts


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    binary = find_chromium()
    if binary is None:
        skip_or_fail("chromium", "no chromium binary (apt-get install -y chromium)")
    assert binary is not None
    b = Chromium(binary, width=1280, height=1000)
    yield b
    b.close()


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_markdown_and_plots(tmp_path: Path) -> None:
    run, counts = _run(tmp_path / "run", problems=6, n=3)
    files = write_report(run)
    md = files.markdown.read_text()
    assert "| k | pass@k [95% CI] | maj@k [95% CI] | problems | missing |" in md
    assert f"| accepted | {counts['accepted']} |" in md and "## Throughput and time" in md
    names = {p.name for p in files.plots}
    assert names == {"pass_at_k.png", "outcomes.png", "pass_rate_hist.png", "throughput.png", "time_split.png"}
    for p in files.plots:
        w, h = _png_size(p)
        assert w >= 300 and h >= 150
        assert f"]({p.relative_to(run)})" in md


def test_plots_wait_for_the_background_warm_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine starts importing matplotlib in a thread when a run starts; a draw waits
    for that thread (matplotlib is not thread-safe) and then gives the same plots."""
    import threading

    import verigen.report._plots as plots

    monkeypatch.setattr(plots, "_WARM", [])
    started = threading.Event()
    release = threading.Event()
    real = plots._warm_up

    def slow_warm_up() -> None:
        started.set()
        release.wait(30)
        real()

    monkeypatch.setattr(plots, "_warm_up", slow_warm_up)
    plots.warm_up_in_background()
    plots.warm_up_in_background()  # once per process
    assert len(plots._WARM) == 1 and started.wait(30)
    run, _ = _run(tmp_path / "run", problems=4, n=2)
    drawn: list[object] = []
    drawer = threading.Thread(target=lambda: drawn.append(write_report(run)))
    drawer.start()
    drawer.join(0.5)
    assert drawer.is_alive() and not drawn  # waiting for the warm-up
    release.set()
    drawer.join(120)
    assert not plots._WARM[0].is_alive() and len(drawn) == 1
    names = {p.name for p in drawn[0].plots}  # type: ignore[attr-defined]
    assert names == {"pass_at_k.png", "outcomes.png", "pass_rate_hist.png", "throughput.png", "time_split.png"}


def test_report_command_compares_runs(tmp_path: Path) -> None:
    a, _ = _run(tmp_path / "a", problems=5, n=4)
    b, _ = _run(tmp_path / "b", problems=5, n=2)
    res = subprocess.run([sys.executable, "-m", "verigen.cli", "report", str(a), "--compare", str(b)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    md = (a / "report.md").read_text()
    assert "## Runs side by side" in md and "| 2 | `b` |" in md and "(plots/compare_pass_at_k.png)" in md
    assert (a / "plots" / "compare_pass_at_k.png").stat().st_size > 5000
    res = subprocess.run([sys.executable, "-m", "verigen.cli", "report", str(tmp_path / "none")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "does not exist" in res.stderr


def _set_filter(b: Chromium, element: str, value: str, event: str) -> None:
    js = f"const e = document.getElementById({element!r}); e.value = {value!r}; e.dispatchEvent(new Event({event!r}));"
    b.eval(f"(() => {{ {js} }})()")


def test_page_loads_filters_and_screenshots(browser: Chromium, tmp_path: Path) -> None:
    run, counts = _run(tmp_path / "run")
    page = write_report(run).html
    assert page is not None
    html = page.read_text()
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html  # nothing to fetch
    browser.errors.clear()
    browser.open(page)
    assert browser.eval("document.getElementById('match-count').textContent") == "200 of 200 samples"
    for code, outcome in enumerate(OUTCOMES):
        _set_filter(browser, "filter-outcome", str(code), "change")
        shown = browser.eval("document.getElementById('match-count').textContent")
        assert shown == f"{counts[outcome.value]} of 200 samples"
        assert browser.eval("document.querySelectorAll('#rows tr').length") == min(50, counts[outcome.value])
        cells = browser.eval("[...document.querySelectorAll('#rows td.oc')].map(td => td.textContent)")
        assert set(cells) == {outcome.value}
    _set_filter(browser, "filter-outcome", "", "change")
    _set_filter(browser, "filter-problem", "task/7", "input")
    browser.eval("new Promise(r => setTimeout(r, 400))")
    assert browser.eval("document.getElementById('match-count').textContent") == "5 of 200 samples"
    shot = browser.screenshot(tmp_path / "page.png")
    w, h = _png_size(shot)
    assert (w, h) == (1280, 1000) and shot.stat().st_size > 30_000  # a rendered page, not a blank one
    assert browser.errors == []


def test_hostile_model_text_never_runs(browser: Chromium, tmp_path: Path) -> None:
    run, _ = _run(tmp_path / "run", problems=12, n=5)
    page = write_report(run).html
    assert page is not None
    browser.errors.clear()
    browser.open(page)
    # Open every sample in the detail view, on every page, so each field is rendered.
    total = browser.eval("window.document.querySelectorAll('#rows tr').length")
    assert total == 50
    for _ in range(2):
        for i in range(browser.eval("document.querySelectorAll('#rows tr').length")):
            browser.eval(f"document.querySelectorAll('#rows tr')[{i}].click()")
        browser.eval("document.getElementById('next').click()")
    _set_filter(browser, "filter-text", "<script>", "input")
    browser.eval("new Promise(r => setTimeout(r, 400))")
    assert int(browser.eval("document.getElementById('match-count').textContent").split()[0]) > 0
    assert browser.eval("String(window.__pwned)") == "undefined"
    assert browser.eval("document.scripts.length") == 2  # the payload block and the viewer, nothing planted
    assert browser.eval("document.querySelectorAll('a, img:not([src^=\"data:image/png\"]), svg, iframe, #evil').length") == 0
    assert browser.eval("[...document.querySelectorAll('*')].some(e => [...e.attributes].some(a => a.name.startsWith('on')))") is False
    detail = browser.eval("document.getElementById('detail').textContent")
    assert any(h in detail for h in HOSTILE)  # shown as text, literally
    assert browser.eval("getComputedStyle(document.body).display") != "none"
    assert browser.errors == []  # a blocked inline script would have logged a CSP error
