import json

import pytest

from faceparse_lib import bench
from faceparse_lib.bench import Case, available_suites, compare, run_suite
from faceparse_lib.cli import main


def test_compare_reports_speed_up_over_the_baseline(monkeypatch):
    # Fake clock: each call advances it by the case's own cost, so the ratio is known exactly.
    clock = {"now": 0.0}
    monkeypatch.setattr(bench.time, "perf_counter", lambda: clock["now"])

    def costs(seconds):
        return lambda: clock.__setitem__("now", clock["now"] + seconds)

    result = compare("t", Case("slow", costs(0.4)), [Case("fast", costs(0.1))], units=20, unit="images")
    assert result.seconds == pytest.approx({"slow": 0.4, "fast": 0.1})
    assert result.ratio("fast") == pytest.approx(4.0)
    rows = {r["case"]: r for r in result.rows()}
    assert rows["fast"]["images/s"] == pytest.approx(200.0) and rows["slow"]["vs_baseline"] == pytest.approx(1.0)
    assert "4.00x" in result.format()


def test_unknown_suite_is_refused_with_the_valid_names():
    with pytest.raises(ValueError, match="synthetic"):
        run_suite("no-such-suite")


def test_bench_command_runs_a_quick_suite_and_writes_json(tmp_path, capsys):
    assert "synthetic" in available_suites()
    out_file = tmp_path / "bench.json"
    assert main(["bench", "synthetic", "--quick", "--json", str(out_file)]) == 0
    rows = json.loads(out_file.read_text())
    assert {r["case"] for r in rows} >= {"one process", "all cores (default)"}
    assert all(r["seconds"] > 0 for r in rows)
    assert "synthetic faces" in capsys.readouterr().out
