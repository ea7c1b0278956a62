"""Report at scale: build time of report.md + plots + report.html and page load in headless
Chromium for a run of N samples (100,000 by default).

    .venv/bin/python benchmarks/report_scale.py --samples 100000 --per-problem 8

The run directory is synthetic (tests/rundata.py): completions of realistic length (about
120 words, random words and numbers, so gzip cannot shrink them more than real text), all
five outcomes. Prints one JSON line of figures.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.chromium import Chromium, find_chromium
from tests.rundata import S, write_run
from verigen.report import write_report
from verigen.types import Outcome

VOCAB = ("the", "we", "so", "then", "sum", "of", "is", "and", "multiply", "divide", "each", "total", "answer",
         "therefore", "first", "second", "equals", "gives", "add", "subtract", "apples", "hours", "price", "x", "y")


OUTCOME_JS = "const s = document.getElementById('filter-outcome'); s.value = 'VALUE'; s.dispatchEvent(new Event('change'));"


def _text(rng: random.Random, words: int) -> str:
    parts = [rng.choice(VOCAB) if rng.random() < 0.8 else str(rng.randint(0, 999)) for _ in range(words)]
    return " ".join(parts) + f" The answer is \\boxed{{{rng.randint(0, 99)}}}."


def build(path: Path, samples: int, per_problem: int) -> Path:
    rng = random.Random(0)
    problems = samples // per_problem
    probs = [(f"bench/{i}", "Question: " + _text(rng, 40)) for i in range(problems)]
    outcomes = [Outcome.ACCEPTED] * 4 + [Outcome.REJECTED] * 4 + [Outcome.NO_ANSWER, Outcome.TIMEOUT, Outcome.ERROR]
    rows = [S(problem=f"bench/{i}", index=j, text=_text(rng, 120), outcome=rng.choice(outcomes),
              answer=str(rng.randint(0, 99)), detail=f"expected {rng.randint(0, 99)}")
            for i in range(problems) for j in range(per_problem)]
    return write_run(path, probs, rows, n=per_problem)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=100_000)
    ap.add_argument("--per-problem", type=int, default=8)
    ap.add_argument("--keep", type=Path, help="build the run here and keep it")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="verigen-report-scale-"))
    t0 = time.perf_counter()
    run = build(root / "run", args.samples, args.per_problem)
    setup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    write_report(run, plots=False, html=True)
    html_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    files = write_report(run)
    full_s = time.perf_counter() - t0
    assert files.html is not None
    out: dict[str, object] = {
        "samples": args.samples, "setup_s": round(setup_s, 1), "report_without_plots_s": round(html_s, 2),
        "report_with_plots_s": round(full_s, 2), "html_mb": round(files.html.stat().st_size / 1e6, 2),
        "samples_jsonl_mb": round((run / "samples.jsonl").stat().st_size / 1e6, 2),
    }
    binary = find_chromium()
    if binary:
        with Chromium(binary) as b:
            out["page_ready_s"] = round(b.open(files.html, timeout=600), 2)
            # Timed inside the page (performance.now), without the DevTools round trip.
            timed = "(() => {{ const t0 = performance.now(); {body} return performance.now() - t0; }})()"
            out["filter_outcome_ms"] = round(b.eval(timed.format(body=OUTCOME_JS.replace("VALUE", "1"))), 1)
            out["rejected_shown"] = b.eval("document.getElementById('match-count').textContent")
            b.eval("document.getElementById('filter-text').value = 'apples 12'")
            # The outcome select filters at once (text input is debounced): the first text search
            # also builds the lower-cased copy of every completion.
            out["first_text_search_ms"] = round(b.eval(timed.format(body=OUTCOME_JS.replace("VALUE", ""))), 1)
            out["next_text_search_ms"] = round(b.eval(timed.format(body=OUTCOME_JS.replace("VALUE", "0"))), 1)
            out["text_matches"] = b.eval("document.getElementById('match-count').textContent")
            out["dom_nodes"] = b.eval("document.getElementsByTagName('*').length")
            out["js_heap_mb"] = round(b.eval("performance.memory ? performance.memory.usedJSHeapSize / 1e6 : -1"), 1)
            out["console_errors"] = len(b.errors)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
