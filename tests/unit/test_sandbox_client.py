"""Host side of the runner protocol: framing, decoding, restart and recycle logic (fake
transports; no runner process)."""

from __future__ import annotations

import base64
import json
import struct
import time

import pytest

from verigen.errors import UsageError
from verigen.sandbox._runner_client import (
    RunnerPool,
    TransportError,
    decode_response,
    encode_frame,
    encode_request,
)
from verigen.sandbox.types import ExecPeer, ExecRequest, ExecStatus, Limits


def _frame(obj: object) -> bytes:
    return encode_frame(obj)


def _response(rid: int, status: str = "exited", clean: bool | str = True, stdout: bytes = b"ok\n") -> dict[str, object]:
    return {"id": rid, "status": status, "exit_code": 0 if status == "exited" else None,
            "stdout_b64": base64.b64encode(stdout).decode(), "stderr_b64": "", "wall_s": 0.01,
            "detail": "", "clean": clean}


class FakeTransport:
    """Answers every request with ``behaviour(request_id)``: a response dict, "eof" or "hang"."""

    def __init__(self, behaviour: object) -> None:
        self.behaviour = behaviour
        self.buffer = bytearray(_frame({"ready": True, "protocol": 2, "python": "3.x"}))
        self.killed = False
        self.requests: list[dict[str, object]] = []

    def write(self, data: bytes) -> None:
        if self.killed:
            raise TransportError("dead")
        (n,) = struct.unpack(">I", data[:4])
        req = json.loads(data[4 : 4 + n])
        if req.get("op") == "load":
            self.buffer += _frame({"loaded": req["name"], "ok": True})
            return
        self.requests.append(req)
        answer = self.behaviour(req["id"])  # type: ignore[operator]
        if isinstance(answer, dict):
            answer = dict(answer)
            clean = answer.pop("clean")
            self.buffer += _frame(answer)
            if clean != "never":  # the runner's word after its cleanup, in a frame of its own
                self.buffer += _frame({"id": req["id"], "clean": clean})
        elif answer == "garbage":
            self.buffer += struct.pack(">I", 3) + b"{{{"
        elif answer == "eof":
            self.killed = True

    def read_exact(self, n: int, deadline: float) -> bytes:
        while len(self.buffer) < n:
            if self.killed:
                raise TransportError("runner exited")
            if time.monotonic() >= deadline:
                raise TransportError("deadline")
            time.sleep(0.01)
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data

    def kill(self) -> None:
        self.killed = True

    def alive(self) -> bool:
        return not self.killed


def test_request_frame_carries_every_field() -> None:
    req = ExecRequest(code="print(1)", stdin=b"\x00in", files={"a/b.txt": b"x"}, argv=("-v",),
                      limits=Limits(timeout_s=2.5, cpu_s=None))
    data = encode_request(7, req)
    (n,) = struct.unpack(">I", data[:4])
    assert n == len(data) - 4
    obj = json.loads(data[4:])
    assert obj["id"] == 7 and obj["code"] == "print(1)" and obj["argv"] == ["-v"]
    assert base64.b64decode(obj["stdin_b64"]) == b"\x00in"
    assert base64.b64decode(obj["files"]["a/b.txt"]) == b"x"
    assert obj["limits"]["timeout_s"] == 2.5 and obj["limits"]["cpu_s"] is None


@pytest.mark.parametrize(
    ("frame", "problem"),
    [
        (_response(2), "id"),
        ({"id": 1, "status": "bogus"}, "malformed"),
        ({"id": 1}, "malformed"),
    ],
)
def test_bad_responses_are_transport_errors(frame: dict[str, object], problem: str) -> None:
    with pytest.raises(TransportError, match=problem):
        decode_response(1, frame)


def test_response_decodes_with_replacement_for_bad_utf8() -> None:
    result = decode_response(1, _response(1, stdout=b"\xffok"))
    assert result.status is ExecStatus.EXITED and result.stdout == "\ufffdok"


def test_request_frame_names_a_program_and_its_peer() -> None:
    req = ExecRequest(program="harness", argv=("main",), peer=ExecPeer(program="harness", argv=("peer",)))
    obj = json.loads(encode_request(1, req)[4:])
    assert obj["program"] == "harness" and "code" not in obj and obj["argv"] == ["main"]
    assert obj["peer"] == {"program": "harness", "argv": ["peer"]}
    with pytest.raises(ValueError, match="not both"):
        ExecRequest(code="print(1)", program="harness")


def test_a_missing_clean_frame_keeps_the_result_and_discards_the_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    import verigen.sandbox._runner_client as client

    monkeypatch.setattr(client, "CLEANUP_TIMEOUT_S", 0.1)
    pool, spawned = _pool([lambda rid: _response(rid, clean="never"), lambda rid: _response(rid)])
    first = pool.run(ExecRequest(code="x"))
    assert first.status is ExecStatus.EXITED and first.stdout == "ok\n"  # never SANDBOX_ERROR
    pool.run(ExecRequest(code="x"))
    assert len(spawned) == 2 and spawned[0].killed


def _pool(behaviours: list[object], **kw: float) -> tuple[RunnerPool, list[FakeTransport]]:
    spawned: list[FakeTransport] = []

    def spawn() -> FakeTransport:
        t = FakeTransport(behaviours[min(len(spawned), len(behaviours) - 1)])
        spawned.append(t)
        return t

    return RunnerPool(spawn, 1, **kw), spawned


@pytest.mark.parametrize("failure", ["eof", "garbage", "hang"])
def test_runner_failure_is_sandbox_error_and_runner_is_replaced(failure: str) -> None:
    pool, spawned = _pool([lambda rid: failure, lambda rid: _response(rid)], slack_s=0.05)
    first = pool.run(ExecRequest(code="x", limits=Limits(timeout_s=0.05)))
    second = pool.run(ExecRequest(code="x"))
    assert first.status is ExecStatus.SANDBOX_ERROR
    assert second.status is ExecStatus.EXITED and second.stdout == "ok\n"
    assert len(spawned) == 2 and spawned[0].killed and pool.restarts == 1


@pytest.mark.parametrize(
    ("status", "clean", "recycled"),
    [("exited", True, False), ("exited", False, True), ("timeout", True, True),
     ("memory", True, True), ("output_limit", True, True), ("sandbox_error", True, True)],
)
def test_recycle_policy(status: str, clean: bool, recycled: bool) -> None:
    pool, spawned = _pool([lambda rid: _response(rid, status=status, clean=clean)])
    pool.run(ExecRequest(code="x"))
    pool.run(ExecRequest(code="x"))
    assert len(spawned) == (2 if recycled else 1)
    assert spawned[0].killed is recycled


def test_spawn_failure_is_sandbox_error() -> None:
    def spawn() -> FakeTransport:
        raise OSError("no bwrap")

    pool = RunnerPool(spawn, 1)
    assert pool.run(ExecRequest(code="x")).status is ExecStatus.SANDBOX_ERROR
    assert pool.run(ExecRequest(code="x")).status is ExecStatus.SANDBOX_ERROR


def test_run_many_keeps_order_and_close_kills() -> None:
    spawned: list[FakeTransport] = []

    def spawn() -> FakeTransport:
        t = FakeTransport(lambda rid: _response(rid, stdout=str(len(t.requests)).encode()))
        spawned.append(t)
        return t

    pool = RunnerPool(spawn, 3)
    pool.warm_up()
    results = pool.run_many([ExecRequest(code=str(i)) for i in range(20)])
    assert len(results) == 20 and all(r.status is ExecStatus.EXITED for r in results)
    assert sum(len(t.requests) for t in spawned) == 20 and len(spawned) == 3
    pool.close()
    assert all(t.killed for t in spawned)
    with pytest.raises(UsageError):
        pool.run(ExecRequest(code="x"))


def test_pool_size_must_be_positive() -> None:
    with pytest.raises(UsageError, match="0"):
        RunnerPool(lambda: FakeTransport(lambda rid: "eof"), 0)
