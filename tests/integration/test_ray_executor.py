"""``--executor ray`` on a real local Ray cluster (a head node and one more worker node), on
loopback only: the cluster lives in a network namespace whose one interface is ``lo``.

The same generate and evaluate runs on the local executor and on Ray give the same samples,
verdicts, metrics and exports; a run whose verifier actor and sampler actor are killed in
the middle (each with a batch in flight) still ends with every sample exactly once.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import skip_or_fail

REPO = Path(__file__).resolve().parents[2]
TASK = ["--task", "arithmetic", "--task-arg", "difficulty=1", "-n", "4", "--backend", "fake",
        "--set", "output.report_plots=false", "--set", "output.report_html=false"]


def _netns_works() -> str | None:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "unshare or ip is not installed"
    res = subprocess.run(["unshare", "--net", "ip", "link", "set", "lo", "up"], capture_output=True, text=True)
    return None if res.returncode == 0 else f"unshare --net failed: {res.stderr.strip()}"


def _script(path: Path, split: str, count: int) -> None:
    from verigen.task import TaskContext, create_task

    task = create_task("arithmetic", {"difficulty": "1", "count": str(count)}, TaskContext())
    script = {}
    for p in task.problems(split=split, seed=0):
        gold = p.reference.text  # type: ignore[attr-defined]
        script[p.id] = [f"The answer is \\boxed{{{gold}}}.", "no idea", f"\\boxed{{{gold}1}}", f"so {gold}"]
    path.write_text(json.dumps(script))


def _samples(out: Path) -> dict[tuple[str, int], dict[str, Any]]:
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    keyed: dict[tuple[str, int], dict[str, Any]] = {}
    for row in rows:
        key = (row["problem_id"], row["sample_index"])
        assert key not in keyed, f"{out.name}: sample {key} written twice"
        row.pop("latency_s")  # wall time, the one field allowed to differ
        keyed[key] = row
    return keyed


def _sft(out: Path) -> list[str]:
    rows = [json.loads(line) for line in (out / "sft.jsonl").read_text().splitlines()]
    for row in rows:
        row["provenance"].pop("run_id")  # derived from the run directory's path
    return sorted(json.dumps(r, sort_keys=True) for r in rows)


def _same_run(local: Path, remote: Path, *, exports: bool, same_config: bool = True) -> None:
    a, b = _samples(local), _samples(remote)
    assert a.keys() == b.keys(), f"{remote.name}: missing {sorted(a.keys() - b.keys())[:3]}, extra {sorted(b.keys() - a.keys())[:3]}"
    assert a == b
    assert json.loads((local / "metrics.json").read_text()) == json.loads((remote / "metrics.json").read_text())
    assert (local / "problems.jsonl").read_bytes() == (remote / "problems.jsonl").read_bytes()
    if exports:
        assert _sft(local) == _sft(remote)
    if same_config:
        config = [(d / "config.toml").read_text().replace(str(d), "OUT") for d in (local, remote)]
        assert config[0] == config[1]
        manifests = [json.loads((d / "manifest.json").read_text()) for d in (local, remote)]
        assert manifests[0]["sampler"] == manifests[1]["sampler"]


def _local(args: list[str], out: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "verigen.cli", *args, "--out", str(out)],
                         capture_output=True, text=True, timeout=300, cwd=REPO)
    assert res.returncode == 0, res.stderr[-3000:]


def test_ray_cluster_on_loopback_matches_local_and_survives_killed_actors(tmp_path: Path) -> None:
    if importlib.util.find_spec("ray") is None:
        skip_or_fail("ray", "ray is not installed (pip install 'verigen[ray]')")
    why = _netns_works()
    if why is not None:
        skip_or_fail("ray", why)
    gen_script, eval_script = tmp_path / "gen.json", tmp_path / "eval.json"
    _script(gen_script, "train", 24)
    _script(eval_script, "test", 6)
    gen = ["generate", *TASK, "--task-arg", "count=24", "--model", str(gen_script)]
    evaluate = ["evaluate", *TASK, "--task-arg", "count=6", "--model", str(eval_script)]
    # The killed run spends 0.08 s a sample generating (8 s in all), so both kills land mid-run.
    kill = [*gen, "--set", "model.delay_s=0.08"]
    runs = {"ray-gen": gen, "ray-eval": evaluate, "kill-gen": kill}
    cluster = subprocess.Popen(["unshare", "--net", "--", sys.executable, "-m", "tests.integration._ray_cluster",
                                str(tmp_path), json.dumps(runs)], stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:  # the local runs, while the cluster starts
        _local(gen, tmp_path / "local-gen")
        _local(evaluate, tmp_path / "local-eval")
        _, stderr = cluster.communicate(timeout=600)
    finally:
        if cluster.poll() is None:
            cluster.kill()  # its finally block never ran: the nodes die with the namespace's last process
            cluster.wait()
    nodes_log = tmp_path / "ray-nodes.log"
    assert cluster.returncode == 0, stderr[-4000:] + (nodes_log.read_text()[-2000:] if nodes_log.exists() else "")
    report = json.loads((tmp_path / "scenario.json").read_text())

    # Loopback only: the namespace has no interface but lo, and every socket is on it.
    assert report["interfaces"] == ["lo"]
    assert report["nodes"] == 2
    assert report["sockets"], "no Ray socket seen: the check looked in the wrong place"
    for sock in report["sockets"]:
        host = ipaddress.ip_address(sock.split()[1].rsplit(":", 1)[0])
        host = getattr(host, "ipv4_mapped", None) or host
        assert host.is_loopback or host.is_unspecified, sock  # unspecified: reaches lo only, there is nothing else

    _same_run(tmp_path / "local-gen", tmp_path / "ray-gen", exports=True)
    _same_run(tmp_path / "local-eval", tmp_path / "ray-eval", exports=False)

    # Killed mid-run: each lost batch was sent again; nothing lost, nothing twice, same results.
    killed = report["kill-gen"]
    assert killed["rc"] == 0, killed["log"][-3000:]
    assert sum(k.startswith("ray::VerifyWorker") for k in killed["killed"]) == 2, killed["killed"]
    assert any(k.startswith("ray::SampleWorker") for k in killed["killed"]), killed["killed"]
    assert 8 <= killed["rows_at_kill"] < 96
    assert "verification batch lost (attempt 1), sending it again" in killed["log"], killed["log"][-3000:]
    assert "generation batch lost (attempt 1), sending it again" in killed["log"], killed["log"][-3000:]
    _same_run(tmp_path / "local-gen", tmp_path / "kill-gen", exports=True, same_config=False)  # only delay_s differs
