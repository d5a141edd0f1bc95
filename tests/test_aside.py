"""Work done aside: accuracy and period sinks computed on a low-priority thread beside a pass."""

from __future__ import annotations

import json
import os
import sys
import threading
import warnings

import pytest

from sinks.runtime.aside import MISSING, AsideWork, lower_thread_priority


def test_aside_results_are_taken_once_and_a_failed_job_stores_nothing():
    work = AsideWork()
    seen = []

    def first(put):
        put("a", 1)
        seen.append(work.peek("a"))  # a later job reads what an earlier one stored

    def failing(put):
        put("b", 2)
        raise ValueError("no")

    work.submit(first)
    work.submit(failing)
    work.submit(lambda put: put("c", work.peek("a") + 10))
    assert work.take("a") == 1 and work.take("a") is MISSING
    assert work.take("b") == 2  # stored before the job failed
    assert work.take("c") == 11 and work.take("zzz") is MISSING
    assert seen == [1]
    work.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("sinks-aside")]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_only_the_aside_thread_runs_at_the_lowest_priority():
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    work = AsideWork()
    work.submit(lambda put: put("nice", os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
    assert work.take("nice") == 19
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before
    assert os.getpriority(os.PRIO_PROCESS, 0) == before
    work.close()
    got = {}
    t = threading.Thread(target=lambda: got.setdefault("ok", lower_thread_priority()))
    t.start()
    t.join()
    assert got["ok"] is True and os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before


def test_estimator_notes_collected_in_a_thread_do_not_touch_the_warnings_machinery():
    from sinks.accuracy.notes import collecting, note
    from sinks.errors import SinksWarning

    got = {}

    def worker():
        with collecting() as notes:
            note("one")
            note("two")
        got["notes"] = notes

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = threading.Thread(target=worker)
        t.start()
        t.join()
        assert got["notes"] == ["one", "two"] and caught == []
        note("three")  # outside collecting(): a SinksWarning, as before
    assert [str(w.message) for w in caught] == ["three"] and caught[0].category is SinksWarning


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    from sinks.sampledata import write_sample_data

    data = tmp_path_factory.mktemp("aside") / "scene"
    write_sample_data(data, size=256, seed=11)
    return data


def _run(spec, out):
    from sinks.cli import main

    with pytest.raises(SystemExit) as ei:
        main(["-q", "run", str(spec), "--out", str(out)])
    return ei.value.code


def _summary(out):
    s = json.loads((out / "summary.json").read_text())
    s.pop("timings_s")
    return json.loads(json.dumps(s).replace(str(out), "OUT"))


def test_accuracy_and_sink_computed_beside_the_last_pass_equal_those_at_the_end(scene, tmp_path, monkeypatch):
    """The first period's accuracy and sink (error-adjusted areas, Monte Carlo interval),
    computed on the aside thread during the last pass, are taken by the stages and equal
    what the stages compute after the last pass; a job that fails leaves them to the stages."""
    import sinks.pipeline as pipeline
    import sinks.stages.aside as aside
    import sinks.stages.carbon as carbon

    taken = []
    real_sink, real_acc = aside.take_sink, aside.take_accuracy

    def spy_sink(ctx, key, *args):
        got = real_sink(ctx, key, *args)
        taken.append((key, got is not MISSING))
        return got

    def spy_acc(ctx, ep, counted):
        got = real_acc(ctx, ep, counted)
        taken.append((ep.name, got is not MISSING))
        return got

    monkeypatch.setattr(aside, "take_sink", spy_sink)
    monkeypatch.setattr(aside, "take_accuracy", spy_acc)
    assert _run(scene / "pipeline.yaml", tmp_path / "aside") == 0
    assert taken == [("2015", True), ("2020", True), ("2025", False), ("2015_2020", True), ("2020_2025", False)]
    assert not [t for t in threading.enumerate() if t.name.startswith("sinks-aside")]

    taken.clear()
    monkeypatch.setattr(pipeline, "start_aside", lambda ctx, k: None)
    assert _run(scene / "pipeline.yaml", tmp_path / "end") == 0
    assert all(not used for _k, used in taken)

    def failing(ctx, *args, **kw):  # the aside thread fails: the stages compute everything
        if threading.current_thread().name.startswith("sinks-aside"):
            raise RuntimeError("aside failed")
        return real_period(ctx, *args, **kw)

    real_period = carbon.period_sink
    monkeypatch.undo()
    monkeypatch.setattr(carbon, "period_sink", failing)
    monkeypatch.setattr(aside, "take_sink", spy_sink)
    monkeypatch.setattr(aside, "take_accuracy", spy_acc)
    taken.clear()
    assert _run(scene / "pipeline.yaml", tmp_path / "failed") == 0
    assert ("2015", True) in taken and ("2015_2020", False) in taken
    a, b, c = (_summary(tmp_path / d) for d in ("aside", "end", "failed"))
    assert a == b == c
    sink = a["carbon"]["sink"]["2015_2020"]
    assert sink["areas"].startswith("error-adjusted") and "sink_mg_c_per_yr_ci95" in sink
    assert set(a["accuracy"]) == {"2015", "2020", "2025"}
