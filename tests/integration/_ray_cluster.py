"""A real two-node Ray cluster on loopback, and the verigen runs the Ray executor test checks.

Run as ``unshare --net -- python -m tests.integration._ray_cluster WORK ARGS_JSON``: the
network namespace has only ``lo``, so no Ray socket can be reached from, or reach, anything
but this namespace (Ray may bind an interface address even when told 127.0.0.1; here there
is none to bind). It starts a head node and one more worker node (``ray start --block``),
runs the runs the test asks for, SIGSTOPs and SIGKILLs actors mid-run, watches which actor
processes a loop (``rest``, ``selfplay``) runs on, and writes what it saw to
``WORK/scenario.json``. The test (outside) compares the run directories.

Only processes this script started (and their descendants, found by parent pid) are
signalled; ``ray stop`` is never used (it kills every Ray process on the machine by name).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PORT = 6379  # the namespace is private: no other cluster can hold this port
NODE_TIMEOUT_S = 90.0
LOOP_INPUTS = "loop-inputs-ready"  # the runs of rest and selfplay wait for this file in WORK


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def descendants(roots: list[int]) -> list[int]:
    kids, out, todo = _children(), [], list(roots)
    while todo:
        pid = todo.pop()
        for child in kids.get(pid, []):
            out.append(child)
            todo.append(child)
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def actor_pids(roots: list[int], cls: str) -> list[int]:
    return sorted(p for p in descendants(roots) if cmdline(p).startswith(f"ray::{cls}"))


def listening_sockets() -> list[str]:
    """Local addresses of every listening TCP socket and bound UDP socket in this namespace."""
    found = []
    for name, state in (("tcp", "0A"), ("tcp6", "0A"), ("udp", "07"), ("udp6", "07")):
        try:
            lines = Path(f"/proc/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] != state:
                continue
            addr, port = fields[1].split(":")
            raw = bytes.fromhex(addr)
            if len(raw) == 4:
                host = socket.inet_ntop(socket.AF_INET, raw[::-1])
            else:  # /proc prints IPv6 as four little-endian 32-bit words
                host = socket.inet_ntop(socket.AF_INET6, b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4)))
            found.append(f"{name} {host}:{int(port, 16)}")
    return sorted(set(found))


def interfaces() -> list[str]:
    lines = Path("/proc/net/dev").read_text().splitlines()[2:]  # per namespace, unlike /sys/class/net
    return sorted(line.split(":")[0].strip() for line in lines)


def verigen(mode: str, args: list[str], out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "verigen.cli", mode, *args, "--out", str(out), *extra]


def rows(out: Path) -> int:
    path = out / "samples.jsonl"
    return path.read_text().count("\n") if path.exists() else 0


def run_cli(cmd: list[str], log: Path) -> None:
    with open(log, "w") as fh:
        res = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, timeout=300)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[3:5])} failed ({res.returncode}): {log.read_text()[-3000:]}")


def wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + NODE_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the Ray head exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the Ray head did not listen on port {port} within {NODE_TIMEOUT_S:g}s")


def wait_nodes(address: str, count: int) -> int:
    import ray

    ray.init(address=address, log_to_driver=False)
    try:
        deadline = time.monotonic() + NODE_TIMEOUT_S
        while time.monotonic() < deadline:
            alive = sum(1 for n in ray.nodes() if n["Alive"])
            if alive >= count:
                return alive
            time.sleep(0.5)
        raise RuntimeError(f"only {alive} of {count} Ray nodes came up within {NODE_TIMEOUT_S:g}s")
    finally:
        ray.shutdown()


def _wait_rows(proc: subprocess.Popen[bytes], out: Path, at_least: int) -> None:
    deadline = time.monotonic() + 240
    while rows(out) < at_least and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if proc.poll() is not None or rows(out) < at_least:
        raise RuntimeError(f"the run ended (rc={proc.poll()}) or stalled before {at_least} rows were written")


def _wait_sampling(proc: subprocess.Popen[bytes], roots: list[int], gone: set[int]) -> None:
    """Until a sampler actor that is not one of ``gone`` runs a ``sample`` call."""
    deadline = time.monotonic() + 240
    while proc.poll() is None and time.monotonic() < deadline:
        if any(cmdline(p).startswith("ray::SampleWorker.sample") for p in actor_pids(roots, "SampleWorker")
               if p not in gone):
            return
        time.sleep(0.02)
    raise RuntimeError(f"the run ended (rc={proc.poll()}) or no restarted sampler actor sampled within 240 s")


def _freeze_and_kill(pids: list[int], frozen_s: float) -> list[str]:
    names = [cmdline(p) for p in pids]
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    time.sleep(frozen_s)
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    return names


def kill_data_mid_run(cmd: list[str], out: Path, log: Path, roots: list[int], at_least: int) -> dict[str, object]:
    """A run on the Ray Data path: once ``at_least`` rows are written, freeze one actor of the
    map_batches pool mid-batch and SIGKILL it (Ray Data restarts it and retries its batch)."""
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
        try:
            _wait_rows(proc, out, at_least)
            at = rows(out)
            killed = _freeze_and_kill(actor_pids(roots, "MapWorker")[:1], 0.3)
            rc = proc.wait(timeout=240)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return {"rc": rc, "killed": killed, "rows_at_kill": [at], "log": log.read_text()[-20000:]}


def kill_mid_run(cmd: list[str], out: Path, log: Path, roots: list[int], at_least: int) -> dict[str, object]:
    """Start a Ray run. Once ``at_least`` rows are written, freeze the sampler actor mid-batch
    and SIGKILL it; once ``at_least`` more are (generation is back), freeze the verifier actors
    while generation goes on (the batches sent to them stay in flight) and SIGKILL them.
    (The other order fails to test: while the verifiers restart, the sampler runs ahead up
    to the backpressure bound, and a short run has nothing left to generate.)"""
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
        try:
            _wait_rows(proc, out, at_least)
            sampler_at = rows(out)
            victim = actor_pids(roots, "SampleWorker")[:1]
            killed = _freeze_and_kill(victim, 0.3)
            # Rows still grow while the sampler restarts (the verifiers work off what was
            # generated before the kill): wait for the restarted actor to sample, so that the
            # verifiers, frozen next, are sent batches while they are frozen.
            _wait_sampling(proc, roots, set(victim))
            _wait_rows(proc, out, rows(out) + at_least)
            verifier_at = rows(out)
            killed += _freeze_and_kill(actor_pids(roots, "VerifyWorker"), 2.0)
            rc = proc.wait(timeout=240)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return {"rc": rc, "killed": killed, "rows_at_kill": [sampler_at, verifier_at], "log": log.read_text()[-20000:]}


def watch_actors(cmd: list[str], log: Path, roots: list[int]) -> dict[str, object]:
    """Run a loop to its end, noting every sampler and verifier actor process it ran on: a
    loop that kept its actors across stages shows one process per actor, whatever the
    number of stages."""
    seen: dict[str, set[int]] = {"SampleWorker": set(), "VerifyWorker": set()}
    before = {cls: set(actor_pids(roots, cls)) for cls in seen}  # an earlier run's actors, not yet gone
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 300
            while proc.poll() is None and time.monotonic() < deadline:
                for cls, pids in seen.items():
                    pids.update(actor_pids(roots, cls))
                time.sleep(0.1)
        finally:
            if proc.poll() is None:
                proc.kill()
            rc = proc.wait()
    if rc != 0:
        raise RuntimeError(f"{' '.join(cmd[3:5])} failed ({rc}): {log.read_text()[-3000:]}")
    return {cls: sorted(pids - before[cls]) for cls, pids in seen.items()}


def wait_file(path: Path) -> None:
    """The test writes the loops' inputs (a tiny model, scripts) while the cluster starts."""
    deadline = time.monotonic() + NODE_TIMEOUT_S
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} did not appear within {NODE_TIMEOUT_S:g}s")
        time.sleep(0.2)


def main(work: Path, spec: dict[str, list[str]]) -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    report: dict[str, object] = {"interfaces": interfaces()}
    tmp = tempfile.mkdtemp(prefix="vgray", dir="/tmp")  # short: Ray's unix socket paths must fit
    # Token authentication (Ray >= 2.52) with a token of this cluster's own: every node, and
    # every verigen driver started below, reads it from the file named by the environment.
    token = Path(tmp) / "auth_token"
    token.write_text(secrets.token_hex(32))
    token.chmod(0o600)
    os.environ.update({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)})
    ray_bin = str(Path(sys.executable).with_name("ray"))
    address = f"127.0.0.1:{PORT}"
    common = ["--block", "--node-ip-address=127.0.0.1", "--num-cpus=2", "--disable-usage-stats"]
    procs: list[subprocess.Popen[bytes]] = []
    t0 = time.monotonic()
    logs = open(work / "ray-nodes.log", "wb")
    try:
        procs.append(subprocess.Popen([ray_bin, "start", "--head", f"--port={PORT}", "--include-dashboard=false",
                                       f"--temp-dir={tmp}", *common], stdout=logs, stderr=logs))
        wait_port(PORT, procs[0])
        procs.append(subprocess.Popen([ray_bin, "start", f"--address={address}", *common], stdout=logs, stderr=logs))
        roots = [p.pid for p in procs]
        report["nodes"] = wait_nodes(address, 2)
        ray_args = ["--executor", "ray", "--ray-address", address, "--ray-verifiers", "2"]
        report["seconds"] = {"cluster": round(time.monotonic() - t0, 1)}
        for name, (mode, *args) in spec.items():
            if mode in ("rest", "selfplay") or name == "data-hf-gen":  # these need the tiny model
                wait_file(work / LOOP_INPUTS)
            t1 = time.monotonic()
            if name.startswith("data-"):  # the Ray Data generation path
                extra = [*ray_args, "--ray-generation", "data"] + (["--ray-samplers", "2"] if "hf" in name else [])
                if name.startswith("data-kill"):
                    report[name] = kill_data_mid_run(verigen(mode, args, work / name, *extra), work / name,
                                                     work / f"{name}.log", roots, at_least=8)
                else:
                    run_cli(verigen(mode, args, work / name, *extra), work / f"{name}.log")
            elif name.startswith("kill"):
                report[name] = kill_mid_run(verigen(mode, args, work / name, *ray_args), work / name, work / f"{name}.log",
                                            roots, at_least=8)
            elif mode in ("rest", "selfplay"):  # one verifier actor: a loop's test is that it keeps its actors
                report[name] = watch_actors(verigen(mode, args, work / name, *ray_args[:-1], "1"), work / f"{name}.log",
                                            roots)
            else:
                run_cli(verigen(mode, args, work / name, *ray_args), work / f"{name}.log")
            report["seconds"][name] = round(time.monotonic() - t1, 1)  # type: ignore[index]
        report["sockets"] = listening_sockets()
    finally:
        everything = descendants([p.pid for p in procs])
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        for pid in everything:  # whatever the nodes left behind (workers, their pool processes)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        logs.close()
        shutil.rmtree(tmp, ignore_errors=True)
        (work / "scenario.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]), json.loads(sys.argv[2]))
