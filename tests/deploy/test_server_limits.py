"""A server that cannot be knocked over: real ``python -m engine serve`` processes answering a
real client (httpx, or a raw socket for what httpx will not send: a body trickling in)."""

from __future__ import annotations

import json
import os
import re
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import REPO
from tests.deploy.conftest import free_port, start_server
from tests.deploy.test_server import fuzz

TOKEN = "s3cret-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}
ROW = {"city": "oslo", "size": 3.0, "member": True}
CLIENT_TIMEOUT = httpx.Timeout(300)  # generous: the suite runs on busy 2-core machines

# ``python -m engine serve`` with a model that breaks on size 666 and, on size 777, waits until
# the file named by $ENGINE_TEST_RELEASE exists.
BREAKABLE_SERVER = """
import os, sys, time
from pathlib import Path
import engine.deploy.server as server
from engine.cli import main

predict = server._predict

def breakable(bundle, rows):
    if (rows["size"] == 666).any():
        raise RuntimeError("the model broke")
    while (rows["size"] == 777).any() and not Path(os.environ["ENGINE_TEST_RELEASE"]).exists():
        time.sleep(0.05)
    return predict(bundle, rows)

server._predict = breakable
main(sys.argv[1:])
"""


@pytest.fixture(scope="module")
def guarded(trained_run: Path) -> Iterator[str]:
    """Served with a 1 MB body limit, 1,000 characters a cell and a bearer token (its /ready
    needs the token too, so this waits for it here rather than in ``start_server``)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "engine", "serve", str(trained_run), "--port", str(port),
         "--max-body-mb", "1", "--max-cell-chars", "1000"],
        cwd=REPO, env={**os.environ, "ENGINE_SERVE_TOKEN": TOKEN}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        while process.poll() is None:
            try:
                if httpx.get(f"{url}/ready", headers=AUTH, timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        assert process.poll() is None, "the server exited"
        yield url
    finally:
        process.terminate()
        process.wait(timeout=60)


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The file whose existence lets the breakable model's size-777 call finish."""
    return tmp_path_factory.mktemp("release") / "go"


def breakable_server(run: Path, release: Path, *options: str) -> Iterator[str]:
    command = [sys.executable, "-c", BREAKABLE_SERVER, "serve", str(run), *options,
               "--port", "{port}"]
    yield from start_server(command=command, env={"ENGINE_TEST_RELEASE": str(release)})


@pytest.fixture(scope="module")
def breakable(trained_run: Path, release: Path) -> Iterator[str]:
    yield from breakable_server(trained_run, release)


@pytest.fixture(scope="module")
def impatient(trained_run: Path, release: Path) -> Iterator[str]:
    """The breakable model, with a 2-second timeout."""
    yield from breakable_server(trained_run, release, "--timeout", "2")


def post(url: str, path: str, **kwargs: object) -> httpx.Response:
    return httpx.post(f"{url}{path}", headers=AUTH, timeout=CLIENT_TIMEOUT, **kwargs)


def metric(url: str, name: str, **labels: str) -> float:
    """A counter's value in /metrics (0 when absent)."""
    text = httpx.get(f"{url}/metrics", headers=AUTH, timeout=CLIENT_TIMEOUT).text
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    found = re.search(rf"^{name}\{{{re.escape(wanted)}\}} (\S+)$", text, re.MULTILINE)
    return float(found[1]) if found else 0.0


def still_serving(url: str) -> None:
    assert httpx.get(f"{url}/health", timeout=CLIENT_TIMEOUT).json() == {"status": "ok"}
    answer = post(url, "/predict", json={"records": [ROW]})
    assert answer.status_code == 200 and len(answer.json()["predictions"]) == 1, answer.text


def test_a_chunked_upload_over_the_limit_is_cut_off_and_the_server_keeps_serving(
        guarded: str) -> None:
    sent: list[int] = []

    def twenty_megabytes() -> Iterator[bytes]:
        for chunk in range(20):
            sent.append(chunk)
            yield b'{"dataframe_records": [' if chunk == 0 else b" " * 1024 * 1024

    before = metric(guarded, "engine_requests_total", endpoint="/invocations", status="413")
    for path in ("/predict", "/invocations"):
        sent.clear()
        answer = post(guarded, path, content=twenty_megabytes())  # no Content-Length: chunked
        assert answer.status_code == 413, answer.text
        assert answer.json() == {"error": "the body is larger than 1,048,576 bytes, the limit "
                                          "(--max-body-mb)"}
        assert len(sent) < 20  # the server stopped reading: the rest was never sent
    declared = post(guarded, "/invocations", content=b" " * (2 * 1024 * 1024))
    assert declared.status_code == 413 and "2,097,152 bytes, larger than 1,048,576" in \
        declared.text
    after = metric(guarded, "engine_requests_total", endpoint="/invocations", status="413")
    assert after == before + 2
    still_serving(guarded)


@pytest.mark.parametrize(("path", "body"), [
    ("/invocations", b'{"dataframe_records": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    ("/predict", b'{"records": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    ("/invocations", b'{"inputs": ' + b'{"a": ' * 50 + b"1" + b"}" * 50 + b"}"),
])
def test_json_nested_too_deep_is_a_400_naming_the_limit(guarded: str, path: str,
                                                        body: bytes) -> None:
    before = metric(guarded, "engine_requests_total", endpoint=path, status="400")
    answer = post(guarded, path, content=body)  # no Content-Type: read as JSON
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"].startswith("the JSON body is nested more than 32 levels deep")
    assert metric(guarded, "engine_requests_total", endpoint=path, status="400") == before + 1
    still_serving(guarded)


def test_brackets_inside_strings_do_not_count_as_nesting(guarded: str) -> None:
    row = {**ROW, "city": "[" * 500 + '\\"{' * 100}
    answer = post(guarded, "/invocations", json={"dataframe_records": [row]})
    assert answer.status_code == 200, answer.text
    assert "categories unseen in training" in answer.json()["warnings"][0]


@pytest.mark.parametrize(("path", "body"), [
    ("/invocations", {"dataframe_records": [{**ROW, "city": "x" * 5000}]}),
    ("/predict", {"records": [ROW, {**ROW, "city": "x" * 5000}]}),
    ("/invocations", {"dataframe_split": {"columns": ["city", "size", "member", "y" * 2000],
                                          "data": [["oslo", 1.0, True, 1]]}}),
])
def test_a_cell_over_its_limit_is_a_413(guarded: str, path: str, body: object) -> None:
    answer = post(guarded, path, json=body)
    assert answer.status_code == 413, answer.text
    message = answer.json()["error"]
    assert "the limit is 1,000 characters a cell (--max-cell-chars)" in message
    assert "row 1: a cell of 5,000" in message if path == "/predict" else "xxxxx" not in message


def test_the_token_is_needed_everywhere_but_health(guarded: str) -> None:
    for path in ("/ready", "/metadata", "/metrics", "/openapi.json", "/docs"):
        answer = httpx.get(f"{guarded}{path}", timeout=CLIENT_TIMEOUT)
        assert answer.status_code == 401, path
        assert answer.headers["www-authenticate"] == 'Bearer realm="engine"'
        assert "Authorization: Bearer TOKEN" in answer.json()["error"]
    wrong = httpx.post(f"{guarded}/predict", json={"records": [ROW]}, timeout=CLIENT_TIMEOUT,
                       headers={"authorization": "Bearer not-it"})
    assert wrong.status_code == 401 and "the one sent is not it" in wrong.text
    assert wrong.headers["www-authenticate"] == 'Bearer realm="engine", error="invalid_token"'
    assert httpx.get(f"{guarded}/health", timeout=CLIENT_TIMEOUT).status_code == 200
    spec = httpx.get(f"{guarded}/openapi.json", headers=AUTH, timeout=CLIENT_TIMEOUT).json()
    assert spec["security"] == [{"bearer": []}]
    assert spec["paths"]["/health"]["get"]["security"] == []
    still_serving(guarded)


def test_an_exception_escaping_a_handler_is_a_counted_json_500(breakable: str) -> None:
    answer = httpx.post(f"{breakable}/predict", json={"records": [{**ROW, "size": 666.0}]},
                        timeout=CLIENT_TIMEOUT)
    assert answer.status_code == 500
    assert answer.json() == {"error": "internal error: the server's log has the details"}
    assert metric(breakable, "engine_requests_total", endpoint="/predict", status="500") == 1
    assert metric(breakable, "engine_request_errors_total", endpoint="/predict",
                  kind="server") == 1
    still_serving(breakable)


def test_a_model_call_past_the_timeout_is_a_counted_503(impatient: str, release: Path) -> None:
    try:
        answer = httpx.post(f"{impatient}/invocations", timeout=CLIENT_TIMEOUT,
                            json={"dataframe_records": [{**ROW, "size": 777.0}]})
    finally:
        release.touch()
    assert answer.status_code == 503, answer.text
    assert answer.json() == {"error": "no answer within 2 s (--timeout): the model is busy; "
                                      "retry later"}
    assert metric(impatient, "engine_requests_total", endpoint="/invocations",
                  status="503") == 1


def test_a_client_sending_its_body_slowly_is_cut_off(impatient: str) -> None:
    """A slowloris: a byte now and then, never the whole body; the server answers 408 when the
    timeout has passed and closes the connection."""
    address = urlsplit(impatient)
    with socket.create_connection((address.hostname, address.port), timeout=60) as client:
        client.sendall(b"POST /invocations HTTP/1.1\r\nHost: test\r\nContent-Type: "
                       b"application/json\r\nContent-Length: 1000000\r\n\r\n{")
        sent = 0
        while not select.select([client], [], [], 0.2)[0] and sent < 3000:
            client.sendall(b" ")
            sent += 1
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), answer
    assert b"connection: close" in head.lower()
    assert json.loads(body)["error"].startswith("the body did not arrive within 2 s (--timeout)")
    assert httpx.get(f"{impatient}/health", timeout=CLIENT_TIMEOUT).status_code == 200


@pytest.mark.slow  # hundreds of generated requests: CI's `pytest -m slow` step runs it
def test_a_fuzz_run_with_the_token_gets_no_server_error_and_no_open_endpoint(
        guarded: str) -> None:
    """schemathesis sends the token, and checks each operation the spec says needs it refuses
    a request without it or with another (``ignored_auth``)."""
    fuzz(guarded, "-H", f"Authorization: Bearer {TOKEN}",
         checks="not_a_server_error,ignored_auth")


def test_a_client_that_never_finishes_its_headers_is_disconnected(impatient: str) -> None:
    """A slowloris on the headers: a byte now and then, never the blank line. uvicorn alone
    would wait for ever; the server closes the connection after its keep-alive timeout."""
    address = urlsplit(impatient)
    with socket.create_connection((address.hostname, address.port), timeout=120) as client:
        client.sendall(b"POST /invocations HTTP/1.1\r\nHost: te")
        try:
            for _ in range(1200):
                if select.select([client], [], [], 0.5)[0]:
                    break
                client.sendall(b"x")
            closed = client.recv(65536) == b""
        except (BrokenPipeError, ConnectionResetError):
            closed = True
    assert closed
    assert httpx.get(f"{impatient}/health", timeout=CLIENT_TIMEOUT).status_code == 200
