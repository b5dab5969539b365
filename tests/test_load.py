"""A small crowd: 8 gradio_client clients x 2 requests at once; all answered, none failed, server alive after.

Prints the figures (requests, failures, median and worst latency); asserts only on correctness, not on time.
"""

from __future__ import annotations

import json
import statistics
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from app_server import ARTIFACTS, AppServer, shared_server
from gradio_client import Client, handle_file

pytestmark = pytest.mark.slow  # one real `python app.py` server for the module

CLIENTS = 8
REQUESTS_EACH = 2


@pytest.fixture(scope="module")
def server() -> AppServer:
    return shared_server()


def _one_client(server: AppServer) -> list[tuple[str, float, str]]:
    """(outcome "ok"/"error", seconds, label or error text) per request of one client."""
    client = Client(server.url, verbose=False)
    clip = server.small_clip  # the crowd is the test, not the clip: keep each request short
    results = []
    for _ in range(REQUESTS_EACH):
        started = time.perf_counter()
        try:
            label = client.predict(handle_file(str(clip)), api_name="/predict")[0]
            results.append(("ok", time.perf_counter() - started, label))
        except Exception as err:  # counted and shown, not raised: the test reports every failure at once
            results.append(("error", time.perf_counter() - started, f"{type(err).__name__}: {err}"))
    return results


def test_eight_clients_two_requests_each(server: AppServer) -> None:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        per_client = list(pool.map(lambda _: _one_client(server), range(CLIENTS)))
    wall = time.perf_counter() - started
    results = [r for rs in per_client for r in rs]
    failures = [text for outcome, _, text in results if outcome != "ok"]
    latencies = sorted(seconds for _, seconds, _ in results)
    figures = {
        "clients": CLIENTS,
        "requests": len(results),
        "failures": len(failures),
        "median_latency_s": round(statistics.median(latencies), 2),
        "worst_latency_s": round(latencies[-1], 2),
        "wall_s": round(wall, 2),
    }
    print("\nload:", figures)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "load_test.json").write_text(json.dumps(figures, indent=2) + "\n")
    assert len(results) == CLIENTS * REQUESTS_EACH
    assert not failures, failures
    assert all(label in server.class_names or label == "" for _, _, label in results)  # "": no micro-expression
    assert server.alive()
    with urllib.request.urlopen(server.url + "/config", timeout=10) as response:
        assert response.status == 200
