"""bench/run end to end: a tiny generated population, then every measurement under gunicorn (--quick)."""

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection, connections

from children.models import Child

from .test_generate import _generator

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql" or not settings.REDIS_URL,
                       reason="bench/run measures the production shape: PostgreSQL and Redis"),
]

HTTP_KINDS = ["search-identifier", "search-plain", "search-phonetic", "search-typo", "search-nickname",
              "search-dob-slip", "record", "feed-upsert", "audit-filter", "audit-csv"]


def sane(summary):
    return (summary["n"] > 0 and 0 < summary["p50_ms"] <= summary["p95_ms"] <= summary["p99_ms"] < 60_000
            and summary["per_second"] > 0)


def test_bench_run_measures_everything_against_a_generated_database_and_leaves_it_whole(tmp_path):
    _generator().generate(children=200, seed=3, workers=1, chunk_size=200, progress=False)
    connections.close_all()  # the run's own processes take the database from here
    url = urlsplit(os.environ["DATABASE_URL"])
    env = {**os.environ, "DATABASE_URL": urlunsplit(url._replace(path=f"/{connection.settings_dict['NAME']}")),
           "SIGNPOST_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--out", str(tmp_path)],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(next(tmp_path.glob("bench-run-*.json")).read_text())
    table = next(tmp_path.glob("bench-run-*.md")).read_text()

    for kind in HTTP_KINDS:
        assert set(result["http"][kind]) == {"1", "4"}, kind
        for clients, summary in result["http"][kind].items():
            assert sane(summary), (kind, clients, summary)
        assert f"| {kind} |" in table
    # every sampled child is found by its NHS number and by its exact name and date of birth
    assert all(s["found"] == 1.0 for s in result["http"]["search-identifier"].values())
    assert all(s["found"] == 1.0 for s in result["http"]["search-plain"].values())
    assert all(s["rows"] > 0 for s in result["http"]["feed-upsert"].values())

    naive = result["icontains"]
    assert sane(naive["icontains"]) and sane(naive["engine"]) and naive["ratio_p95"] > 0

    audit = result["audit_write"]
    assert audit["events"] == 2 * 50 and audit["per_second"] > 0
    assert audit["chain_ok"] and audit["full_verify"] and audit["full_verify_ok"]
    assert audit["new_links_verified"] >= audit["events"]

    retention = result["retention"]
    assert retention["children"] == 30 and retention["left_behind"] == 0

    rss = result["worker_rss"]
    assert rss["workers"] == 4 and 20 < rss["mean_mib"] <= rss["max_mib"] < 2048

    # the generated population is untouched: retention deleted only the children it made
    assert Child.objects.count() == 200
