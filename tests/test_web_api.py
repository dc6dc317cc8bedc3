"""The HTTP API of `gradproof serve`: each endpoint, each error, the worker gate and rate limits."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the web extra is not installed")
pytest.importorskip("httpx", reason="httpx (dev extra) is needed by Starlette's TestClient")

import warnings

with warnings.catch_warnings():
    # Starlette 1.x suggests httpx2 for its TestClient; httpx (the dev extra) still works
    warnings.filterwarnings("ignore", message=".*httpx2", category=DeprecationWarning)
    from starlette.testclient import TestClient

from derive.answers.check import check
from derive.web.app import create_app
from derive.web.catalog import bundled_examples, load_catalog
from derive.web.limits import Busy, Gate, RateLimiter, WebLimits
from tests.conftest import EXAMPLES, run_cli

CATALOG = load_catalog([EXAMPLES / "seed_example2.toml", EXAMPLES / "sigmoid_layer.toml"])
NO_RATE = WebLimits(checks_per_minute=0, previews_per_minute=0)
WRONG = r"2 z (\hat{y}-y)^T"
RIGHT = r"2(\hat{y}-y)z^T"


def client_for(limits: WebLimits = NO_RATE, log: Path | None = None) -> Iterator[TestClient]:
    handle = open(log, "a", encoding="utf-8") if log else None  # noqa: SIM115
    try:
        with TestClient(create_app(CATALOG, limits, handle), raise_server_exceptions=False) as c:
            yield c
    finally:
        if handle:
            handle.close()


@pytest.fixture
def client() -> Iterator[TestClient]:
    yield from client_for()


def post(client: TestClient, path: str, **body: object) -> tuple[int, dict[str, object]]:
    r = client.post(path, json=body)
    return r.status_code, r.json()


def test_networks_lists_ids_titles_and_gradients(client: TestClient) -> None:
    r = client.get("/api/networks")
    assert r.status_code == 200
    nets = {n["id"]: n for n in r.json()["networks"]}
    assert set(nets) == {"seed_example2", "sigmoid_layer"}
    assert nets["seed_example2"]["gradients"] == ["yhat", "W2", "b2", "z", "W1", "b1"]


def test_a_network_has_equations_names_gradients_and_a_graph(client: TestClient) -> None:
    r = client.get("/api/networks/seed_example2")
    assert r.status_code == 200
    net = r.json()
    assert len(net["equations"]) == 3
    for m in [*net["equations"], *(g["question"] for g in net["gradients"])]:
        ET.fromstring(m)
    assert {n["name"]: n["shape"] for n in net["names"]}["W2"] == "[m x h]"
    svg = client.get(net["graph"])
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert "<script" not in svg.text


def test_check_gives_the_keys_of_check_json_and_the_verdict(client: TestClient) -> None:
    status, wrong = post(client, "/api/check", network="seed_example2", wrt="W2", answer=WRONG)
    assert status == 200
    expected = json.loads(check(EXAMPLES / "seed_example2.toml", "W2", WRONG).to_json())
    assert set(expected) <= set(wrong)
    assert wrong["verdict"] == "incorrect" and wrong["mistake"] == "transpose"
    assert wrong["diagnosis"] == expected["diagnosis"]
    assert isinstance(wrong["parsed_mathml"], str)
    ET.fromstring(wrong["parsed_mathml"])
    status, right = post(client, "/api/check", network="seed_example2", wrt="W2", answer=RIGHT)
    assert status == 200 and right["verdict"] == "correct"


def test_a_counterexample_comes_with_dims_and_values(client: TestClient) -> None:
    status, r = post(client, "/api/check", network="seed_example2", wrt="W2",
                     answer=r"3(\hat{y}-y)z^T")  # fmt: skip
    assert status == 200 and r["verdict"] == "incorrect"
    c = r["counterexample"]
    assert isinstance(c, dict) and set(c["dims"]) == {"n", "h", "m"}
    assert "z" in c["values"] or "W1" in c["values"]


def test_preview_reads_without_grading(client: TestClient) -> None:
    status, r = post(client, "/api/preview", network="seed_example2", wrt="W2", answer=WRONG)
    assert status == 200
    assert r["parsed"] == r"2 z (\hat{y} - y)^{T}"
    assert r["answer_shape"] == "[h x m]" and r["expected_shape"] == "[m x h]"
    assert "verdict" not in r and r["problem"] is None
    ET.fromstring(str(r["parsed_mathml"]))
    status, bad = post(client, "/api/preview", network="seed_example2", wrt="W2", answer="2 q")
    assert status == 200 and bad["parsed_mathml"] is None
    assert "q" in str(bad["problem"])


def test_hint_and_derivation(client: TestClient) -> None:
    hint = client.get("/api/networks/seed_example2/gradients/W2/hint").json()
    ET.fromstring(hint["mathml"])
    assert hint["text"]
    full = client.get("/api/networks/seed_example2/gradients/W2/derivation").json()
    assert full["latex"] == r"2 (\hat{y} - y) z^{T}"
    for m in [*full["steps"], *full["where"]]:
        ET.fromstring(m)


def test_healthz(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["networks"] == 2


def test_the_page_and_its_files_are_served_with_a_strict_policy(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "/static/page.js" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "http" not in page.text.replace("http-equiv", "")  # nothing from another site
    for name in ("page.js", "page.css"):
        assert client.get(f"/static/{name}").status_code == 200
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/static/index.html").status_code == 404


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"{not json", 400, "not JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (b"\xff\xfe", 400, "UTF-8"),
        (b"[" * 50_000, 400, "JSON"),
        (json.dumps({"wrt": "W2", "answer": "x"}).encode(), 400, "'network' must be a string"),
        (
            json.dumps({"network": "seed_example2", "wrt": 2, "answer": "x"}).encode(),
            400,
            "'wrt' must be a string",
        ),
        (
            json.dumps({"network": "../../etc/passwd", "wrt": "W2", "answer": "x"}).encode(),
            404,
            "no network",
        ),
        (
            json.dumps({"network": "seed_example2", "wrt": "W9", "answer": "x"}).encode(),
            404,
            "no gradient",
        ),
        (
            json.dumps(
                {"network": "seed_example2", "wrt": "W2", "answer": "x", "lenient": "yes"}
            ).encode(),
            400,
            "lenient",
        ),
    ],
)
@pytest.mark.parametrize("path", ["/api/check", "/api/preview"])
def test_bad_requests_get_one_line(
    client: TestClient, path: str, body: bytes, status: int, words: str
) -> None:
    r = client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == status
    message = r.json()["error"]
    assert words in message and "\n" not in message and "Traceback" not in message


def test_unknown_network_and_gradient_on_get(client: TestClient) -> None:
    assert client.get("/api/networks/nope").status_code == 404
    assert "no network" in client.get("/api/networks/nope").json()["error"]
    r = client.get("/api/networks/seed_example2/gradients/nope/hint")
    assert r.status_code == 404 and "gradients: yhat, W2" in r.json()["error"]
    r = client.get("/api/nothing")
    assert r.status_code == 404 and r.json()["error"].startswith("not found")
    assert client.get("/api/check").status_code == 405


def test_a_body_over_the_limit_is_413(client: TestClient) -> None:
    big = json.dumps({"network": "seed_example2", "wrt": "W2", "answer": "x" * 70_000})
    r = client.post("/api/check", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "65536" in r.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(100):
            yield b"x" * 1000

    r = client.post("/api/check", content=chunks())
    assert r.status_code == 413


def test_an_answer_over_the_reader_limit_is_invalid(client: TestClient) -> None:
    status, r = post(client, "/api/check", network="seed_example2", wrt="W2",
                     answer="x" * 30_000)  # fmt: skip
    assert status == 200 and r["verdict"] == "invalid"
    assert "30000 characters" in str(r["diagnosis"])


def test_a_check_past_its_deadline_is_invalid_not_incorrect() -> None:
    for c in client_for(replace(NO_RATE, check_seconds=0.001)):
        status, r = post(c, "/api/check", network="seed_example2", wrt="W2", answer=WRONG)
        assert status == 200 and r["verdict"] == "invalid" and r["method"] == "timeout"
        assert "did not finish within 0.001 s" in str(r["diagnosis"])
        # the server goes on
        assert c.get("/healthz").json()["running"] == 0


def test_rate_limit_per_client_is_429_with_retry_after() -> None:
    for c in client_for(WebLimits(checks_per_minute=6)):  # a burst of 1, then one per 10 s
        body = {"network": "seed_example2", "wrt": "W2", "answer": RIGHT}
        assert c.post("/api/check", json=body).status_code == 200
        r = c.post("/api/check", json=body)
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert "too many requests" in r.json()["error"]


def test_a_full_queue_is_429_busy() -> None:
    for c in client_for(replace(NO_RATE, workers=1, queue=0)):
        gate = c.app.state.server.gate  # type: ignore[attr-defined]
        gate.running = 1  # as if a check held the only worker
        status, r = post(c, "/api/check", network="seed_example2", wrt="W2", answer=RIGHT)
        gate.running = 0
        assert status == 429 and "busy" in str(r["error"])


def test_an_internal_error_is_one_line_without_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    from derive.web import api

    def broken(*args: object) -> dict[str, object]:
        raise RuntimeError("a bug /home/secret/path")

    monkeypatch.setattr(api, "check_answer", broken)
    for c in client_for():
        r = c.post("/api/check", json={"network": "seed_example2", "wrt": "W2", "answer": "x"})
        assert r.status_code == 500
        assert r.json() == {"error": "internal error in gradproof; please report it"}


def test_log_writes_one_json_line_per_check(tmp_path: Path) -> None:
    log = tmp_path / "answers.jsonl"
    for c in client_for(log=log):
        post(c, "/api/check", network="seed_example2", wrt="W2", answer=WRONG)
        post(c, "/api/check", network="seed_example2", wrt="W2", answer="x\n\u2028y")
        post(c, "/api/preview", network="seed_example2", wrt="W2", answer=WRONG)
    lines = log.read_text().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["answer"] == WRONG and first["mistake"] == "transpose"
    assert second["answer"] == "x\n\u2028y" and second["verdict"] == "invalid"


# -- the pieces -----------------------------------------------------------------------------------


def test_gate_admits_workers_plus_queue_then_refuses() -> None:
    import asyncio

    async def scenario() -> list[str]:
        gate = Gate(workers=1, queue=1)
        release = asyncio.Event()
        seen: list[str] = []

        async def hold(tag: str) -> None:
            try:
                async with gate.slot():
                    seen.append(f"in {tag}")
                    await release.wait()
            except Busy:
                seen.append(f"busy {tag}")

        tasks = [asyncio.create_task(hold(t)) for t in "abc"]
        await asyncio.sleep(0.01)
        release.set()
        await asyncio.gather(*tasks)
        return seen

    assert asyncio.run(scenario()) == ["in a", "busy c", "in b"]


def test_rate_limiter_refills_and_forgets_old_clients() -> None:
    rl = RateLimiter(per_minute=60, clients=2)  # a burst of 10, one a second
    assert all(rl.allow("a", now=0.0) == 0 for _ in range(10))
    assert rl.allow("a", now=0.0) == pytest.approx(1.0)
    assert rl.allow("a", now=1.0) == 0
    rl.allow("b", now=1.0)
    rl.allow("c", now=1.0)
    assert "a" not in rl._buckets and len(rl._buckets) == 2


def test_serve_refuses_bad_options_in_one_line() -> None:
    r = run_cli("serve", "--workers", "0")
    assert r.returncode == 2 and "--workers 0" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("serve", "no/such/spec.toml")
    assert r.returncode == 2 and "no/such/spec.toml" in r.stderr


def test_bundled_examples_start_with_the_notes_examples() -> None:
    stems = [p.stem for p in bundled_examples()]
    assert stems[:2] == ["seed_example1", "seed_example2"] and len(stems) >= 10
