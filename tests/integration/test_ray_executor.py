"""``--executor ray`` on a real local Ray cluster (a head node and one more worker node), on
loopback only: the cluster lives in a network namespace whose one interface is ``lo``.

The same generate and evaluate runs (math, and HumanEval in bwrap sandboxes) on the local
executor and on Ray give the same samples, verdicts, metrics and exports; a run whose
verifier actors and sampler actor are killed in the middle (each with a batch in flight)
still ends with every sample exactly once. The loops too, on the same cluster: a ReST-EM
iteration (fake sampler, the tiny real M-step on the driver) and two self-play rounds (fake
sampler, solutions checked in bwrap on the verifier actors) write the same files with the
same rows as on the local executor, each on one set of actors for all its stages.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import itertools
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import data_dir, skip_or_fail
from tests.integration._ray_cluster import LOOP_INPUTS

REPO = Path(__file__).resolve().parents[2]
NO_REPORT = ["--set", "output.report_plots=false", "--set", "output.report_html=false"]
TASK = ["--task", "arithmetic", "--task-arg", "difficulty=1", "-n", "4", "--backend", "fake", *NO_REPORT]


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


def _code_runs(work: Path) -> tuple[list[str] | None, str]:
    """A HumanEval evaluate in the bwrap sandbox (reference and wrong solutions), when the
    data and bwrap are here; else None and why."""
    from verigen.sandbox import select
    from verigen.task import TaskContext, create_task

    data = data_dir()
    if data is None:
        return None, "data: no ../shared/data and no VERIGEN_DATA_DIR"
    reason = select.bwrap_unavailable_reason()
    if reason is not None:
        return None, f"bwrap: {reason}"
    task = create_task("humaneval", {}, TaskContext(data_dir=data, sandbox="bwrap"))
    script = {}
    for p in itertools.islice(task.problems(split="test", seed=0), 6):
        script[p.id] = [task.fewshot_answer(p), "```python\ndef nope():\n    return 1\n```"]
    (work / "code.json").write_text(json.dumps(script))
    return ["evaluate", "--task", "humaneval", "--limit", "6", "-n", "2", "--backend", "fake", "--model",
            str(work / "code.json"), "--sandbox", "bwrap", "--data-dir", str(data), *NO_REPORT], ""


def _rest_args(work: Path) -> tuple[list[str], str]:
    """One ReST-EM iteration (``_rest_inputs``), or why not."""
    for mod in ("trl", "datasets", "torch", "transformers"):
        if importlib.util.find_spec(mod) is None:
            return [], f"train: {mod} is not installed (pip install 'verigen[train,transformers]')"
    return ["rest", "--config", str(work / "rest.toml")], ""


def _rest_inputs(work: Path) -> None:
    """The fake sampler for the E-step and the evaluations, two optimizer steps of the tiny
    Llama for the M-step (on the driver)."""
    from tests.integration._tiny_model import save_tiny_llama
    from tests.integration.test_rest_loop import _script as rest_script

    tiny = save_tiny_llama(work / "tiny")
    script = rest_script(work / "rest.json")
    (work / "rest.toml").write_text(f"""
[task]
name = "arithmetic"
limit = 4
[model]
backend = "fake"
name = "{script}"
[sampling]
n = 2
[train]
max_steps = 2
batch_size = 2
learning_rate = 1e-3
device = "cpu"
max_length = 256
[rest]
iterations = 1
base_model = "{tiny}"
max_per_problem = 1
eval_tasks = [{{ name = "arithmetic", split = "test", limit = 3 }}]
[output]
report_plots = false
[output.decontam]
against = []
""")


def _selfplay_args(work: Path) -> tuple[list[str], str]:
    """Two self-play rounds scripted with kept, trivial, duplicate and unsolved puzzles."""
    from tests.integration.test_selfplay import _script as selfplay_script
    from tests.integration.test_selfplay import _seed_data
    from verigen.sandbox import select

    reason = select.bwrap_unavailable_reason()
    if reason is not None:
        return [], f"bwrap: {reason}"
    seed = _seed_data(work / "selfplay-seed")
    return ["selfplay", "--backend", "fake", "--model", str(selfplay_script(work / "selfplay.json")),
            "--seed-task", "p3", "--rounds", "2", "--puzzles", "8", "--attempts", "2", "--data-dir", str(seed),
            "--sandbox", "bwrap"], ""


@dataclass(frozen=True)
class Cluster:
    work: Path
    report: dict[str, Any]
    code_skipped: str
    skipped: dict[str, str]  # run name -> "part: why" it was not run


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Cluster:
    """One two-node cluster for the module: every Ray run, and the same runs locally."""
    if importlib.util.find_spec("ray") is None:
        skip_or_fail("ray", "ray is not installed (pip install 'verigen[ray]')")
    why = _netns_works()
    if why is not None:
        skip_or_fail("ray", why)
    work = tmp_path_factory.mktemp("ray")
    _script(work / "gen.json", "train", 24)
    _script(work / "eval.json", "test", 6)
    _script(work / "kill.json", "train", 40)
    gen = ["generate", *TASK, "--task-arg", "count=24", "--model", str(work / "gen.json")]
    evaluate = ["evaluate", *TASK, "--task-arg", "count=6", "--model", str(work / "eval.json")]
    # The killed run has 40 problems and spends 0.08 s a sample generating (13 s in all), so
    # both kills land mid-run.
    kill = ["generate", *TASK, "--task-arg", "count=40", "--model", str(work / "kill.json"), "--set", "model.delay_s=0.08"]
    runs = {"ray-gen": gen, "ray-eval": evaluate, "kill-gen": kill,
            "data-gen": gen, "data-eval": evaluate, "data-kill-gen": kill}  # data-*: --ray-generation data
    code, code_skipped = _code_runs(work)
    if code is not None:
        runs["ray-code"] = code
    # The loops run last; their inputs (a tiny model to train) are made while the cluster starts.
    loops = {"loop-rest": _rest_args(work), "loop-selfplay": _selfplay_args(work)}
    skipped = {name: why for name, (_, why) in loops.items() if why}
    # The transformers backend on CPU workers of the Ray Data pool: the tiny Llama the
    # ReST-EM inputs make (so it runs where they can), seeded sampling, 2 replicas.
    hf = ["generate", "--task", "arithmetic", "--task-arg", "difficulty=1", "--task-arg", "count=4", "-n", "2",
          "--backend", "transformers", "--model", str(work / "tiny"), "--temperature", "1.0",
          "--set", "sampling.max_tokens=8", "--set", "model.device=cpu", *NO_REPORT]
    if "loop-rest" in skipped:
        skipped["data-hf-gen"] = skipped["loop-rest"]
    else:
        runs["data-hf-gen"] = hf
    runs.update({name: args for name, (args, why) in loops.items() if not why})
    proc = subprocess.Popen(["unshare", "--net", "--", sys.executable, "-m", "tests.integration._ray_cluster",
                             str(work), json.dumps(runs)], stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:  # the local runs, while the cluster starts
        if "loop-rest" in runs:
            _rest_inputs(work)
        (work / LOOP_INPUTS).touch()
        _local(gen, work / "local-gen")
        _local(evaluate, work / "local-eval")
        _local(kill[:-2], work / "local-kill")
        if code is not None:
            _local(code, work / "local-code")
        if "data-hf-gen" in runs:
            _local(hf, work / "local-hf-gen")
        for name in ("loop-rest", "loop-selfplay"):
            if name in runs:
                _local(runs[name], work / f"local-{name}")
        _, stderr = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()  # its finally block never ran: the nodes die with the namespace's last process
            proc.wait()
    nodes_log = work / "ray-nodes.log"
    assert proc.returncode == 0, stderr[-4000:] + (nodes_log.read_text()[-2000:] if nodes_log.exists() else "")
    return Cluster(work=work, report=json.loads((work / "scenario.json").read_text()), code_skipped=code_skipped,
                   skipped=skipped)


def test_the_cluster_is_on_loopback_only(cluster: Cluster) -> None:
    report = cluster.report
    assert report["interfaces"] == ["lo"]
    assert report["nodes"] == 2
    assert report["sockets"], "no Ray socket seen: the check looked in the wrong place"
    for sock in report["sockets"]:
        host = ipaddress.ip_address(sock.split()[1].rsplit(":", 1)[0])
        host = getattr(host, "ipv4_mapped", None) or host
        assert host.is_loopback or host.is_unspecified, sock  # unspecified: reaches lo only, there is nothing else


def test_generate_and_evaluate_on_ray_equal_the_local_executor(cluster: Cluster) -> None:
    _same_run(cluster.work / "local-gen", cluster.work / "ray-gen", exports=True)
    _same_run(cluster.work / "local-eval", cluster.work / "ray-eval", exports=False)


def test_code_verification_in_warm_sandboxes_on_ray_equals_local(cluster: Cluster) -> None:
    if cluster.code_skipped:
        part, reason = cluster.code_skipped.split(": ", 1)
        skip_or_fail(part, reason)
    _same_run(cluster.work / "local-code", cluster.work / "ray-code", exports=False)
    outcomes = [r["verdict"]["outcome"] for r in _samples(cluster.work / "ray-code").values()]
    assert outcomes.count("accepted") == 6 and outcomes.count("rejected") == 6, outcomes


def test_killed_actors_cost_only_their_in_flight_batches(cluster: Cluster) -> None:
    killed = cluster.report["kill-gen"]
    assert killed["rc"] == 0, killed["log"][-3000:]
    assert sum(k.startswith("ray::VerifyWorker") for k in killed["killed"]) == 2, killed["killed"]
    assert any(k.startswith("ray::SampleWorker") for k in killed["killed"]), killed["killed"]
    assert 8 <= killed["rows_at_kill"][0] < killed["rows_at_kill"][1] < 160, killed["rows_at_kill"]
    assert "verification batch lost (attempt 1), sending it again" in killed["log"], killed["log"][-3000:]
    assert "generation batch lost (attempt 1), sending it again" in killed["log"], killed["log"][-3000:]
    # Each lost batch was sent again: nothing lost, nothing twice, the same results.
    _same_run(cluster.work / "local-kill", cluster.work / "kill-gen", exports=True, same_config=False)  # only delay_s differs


def test_the_ray_data_path_equals_the_local_executor(cluster: Cluster) -> None:
    _same_run(cluster.work / "local-gen", cluster.work / "data-gen", exports=True)
    _same_run(cluster.work / "local-eval", cluster.work / "data-eval", exports=False)
    log = (cluster.work / "data-gen.log").read_text()
    assert "MapBatches(GenerateBatch)" in log, log[-3000:]  # it did run on Ray Data


def test_the_transformers_backend_on_ray_data_cpu_workers_equals_local(cluster: Cluster) -> None:
    if "data-hf-gen" in cluster.skipped:
        part, reason = cluster.skipped["data-hf-gen"].split(": ", 1)
        skip_or_fail(part, reason)
    _same_run(cluster.work / "local-hf-gen", cluster.work / "data-hf-gen", exports=True)
    assert len(_samples(cluster.work / "data-hf-gen")) == 8


def test_a_killed_ray_data_actor_costs_only_its_in_flight_batch(cluster: Cluster) -> None:
    killed = cluster.report["data-kill-gen"]
    assert killed["rc"] == 0, killed["log"][-3000:]
    assert len(killed["killed"]) == 1 and killed["killed"][0].startswith("ray::MapWorker"), killed["killed"]
    assert 8 <= killed["rows_at_kill"][0] < 160, killed["rows_at_kill"]
    # Ray Data retried the killed actor's batch, under verigen's own retry limit (6 attempts,
    # not Ray Data's default of for ever): nothing lost, nothing twice, the same results.
    assert "MapBatches(GenerateBatch)).submit failed. There are 5 retries remaining" in killed["log"], killed["log"][-3000:]
    assert "delivered twice" not in killed["log"], killed["log"][-3000:]
    _same_run(cluster.work / "local-kill", cluster.work / "data-kill-gen", exports=True, same_config=False)


def _loop_ran(cluster: Cluster, name: str) -> tuple[Path, Path]:
    if name in cluster.skipped:
        part, reason = cluster.skipped[name].split(": ", 1)
        skip_or_fail(part, reason)
    actors = cluster.report[name]
    # One sampler actor and one verifier actor for every stage of the loop: none restarted.
    assert len(actors["SampleWorker"]) == 1 and len(actors["VerifyWorker"]) == 1, actors
    return cluster.work / f"local-{name}", cluster.work / name


def _files(root: Path) -> list[str]:
    return sorted(str(f.relative_to(root)) for f in root.rglob("*") if f.is_file())


def _json_file(path: Path) -> Any:
    return json.loads(path.read_text())


def test_rest_on_ray_equals_the_local_executor(cluster: Cluster) -> None:
    local, remote = _loop_ran(cluster, "loop-rest")
    assert _files(local) == _files(remote)  # the same loop directory, file for file
    stages = ["iter_0/eval/heldout-arithmetic-test", "iter_0/eval/train-arithmetic-train", "iter_1/estep",
              "iter_1/eval/heldout-arithmetic-test", "iter_1/eval/train-arithmetic-train"]
    for stage in stages:
        _same_run(local / stage, remote / stage, exports=stage.endswith("estep"), same_config=False)
        assert _samples(remote / stage), f"{stage}: no samples"
        # The same resolved config and sampler record: either executor resumes the other's loop.
        config = [(d / stage / "config.toml").read_text().replace(str(d), "LOOP") for d in (local, remote)]
        assert config[0] == config[1], stage
        samplers = [_json_file(d / stage / "manifest.json")["sampler"] for d in (local, remote)]
        assert samplers[0] == samplers[1], stage
    loop_configs = [(d / "loop-config.json").read_text().replace(str(d), "LOOP") for d in (local, remote)]
    assert loop_configs[0] == loop_configs[1]
    for label in ("heldout-arithmetic-test", "train-arithmetic-train"):
        metrics = [_json_file(d / "iter_1" / "eval" / f"{label}.json")["metrics"] for d in (local, remote)]
        assert metrics[0] == metrics[1]
    estep = [_json_file(d / "iter_1" / "estep.json") for d in (local, remote)]
    assert estep[0]["rows"] == estep[1]["rows"] == 4 and estep[0]["outcomes"] == estep[1]["outcomes"]
    # The M-step trained on the driver from the same rows: the same steps, a checkpoint in place.
    trained = [_json_file(d / "iter_1" / "mstep" / "train.json") for d in (local, remote)]
    assert trained[0]["rows"] == trained[1]["rows"] == 4 and trained[0]["steps"] == trained[1]["steps"] == 2
    # (on the CPU, seeded, the same rows in the same order train the same weights)
    assert trained[0]["train_loss"] == trained[1]["train_loss"]
    assert trained[0]["checkpoint_sha256"] == trained[1]["checkpoint_sha256"]
    assert Path(trained[1]["checkpoint"], "model.safetensors").is_file()
    assert str(remote) in trained[1]["checkpoint"]
    loops = [_json_file(d / "loop.json") for d in (local, remote)]
    assert loops[0]["finished"] and loops[1]["finished"]
    assert [i["iteration"] for i in loops[1]["iterations"]] == [0, 1]


def test_selfplay_on_ray_equals_the_local_executor(cluster: Cluster) -> None:
    local, remote = _loop_ran(cluster, "loop-selfplay")
    assert _files(local) == _files(remote)
    for name in ("rounds.jsonl", "puzzles.jsonl", "sft.jsonl", "p3/puzzles.json", "p3/split.json"):
        assert (local / name).read_text() == (remote / name).read_text(), name
    rounds = [json.loads(line) for line in (remote / "rounds.jsonl").read_text().splitlines()]
    assert [r["kept"] for r in rounds] == [1, 1] and [r["solved"] for r in rounds] == [3, 2], rounds
