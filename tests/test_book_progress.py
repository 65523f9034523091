"""The runner's progress line: what it prints from a sweep's progress file and papermill's cells."""
import io
import json

import pytest

from dreg_utils.book.progress import CellCounter, ProgressLine, format_duration, read_progress


def write(path, **record):
    path.write_text(json.dumps({"desc": "mnist runs", "cached": 16, "trained": 8, **record}))


def test_plain_lines_show_runs_cached_trained_and_time_left(tmp_path):
    progress, stream, cells = tmp_path / "p.json", io.StringIO(), CellCounter()
    line = ProgressLine("[2/8] 02_mnist_sweep", progress, cells, stream, quiet_s=0.0, tty=False)
    cells.write("\r7/18")  # what papermill's tqdm bar writes with bar_format "{n}/{total}"
    write(progress, done=24, total=48, eta_s=190.0)
    printed = line.poll()
    assert printed.startswith("[2/8] 02_mnist_sweep | cell 7/18 | mnist runs 24/48 (16 cached, 8 trained), ~3m10s left")
    assert printed.endswith("\n") and "\r" not in printed
    assert line.poll() is None  # nothing moved: no repeated line
    write(progress, done=30, total=48, eta_s=100.0)
    assert "30/48 (" in line.poll()
    write(progress, done=48, total=48, eta_s=0.0)
    final = line.poll(final=True)
    assert "48/48 (" in final and "left" not in final
    assert stream.getvalue().count("\n") == 3


def test_plain_lines_are_rate_limited(tmp_path):
    progress, stream = tmp_path / "p.json", io.StringIO()
    line = ProgressLine("nb", progress, CellCounter(), stream, quiet_s=3600.0, tty=False)
    write(progress, done=1, total=4, eta_s=None)
    assert "time left unknown" in line.poll()
    write(progress, done=2, total=4, eta_s=5.0)
    assert line.poll() is None  # moved on, but within quiet_s of the last line
    assert "2/4 (" in line.poll(final=True)


def test_terminal_line_is_rewritten_in_place(tmp_path):
    progress, stream = tmp_path / "p.json", io.StringIO()
    line = ProgressLine("nb", progress, CellCounter(), stream, tty=True)
    write(progress, done=1, total=4, eta_s=30.0)
    first, second = line.poll(), line.poll(final=True)
    assert first.startswith("\r") and "\n" not in first and "1/4 (" in first
    assert second.startswith("\r") and second.endswith("\n")


def test_thread_prints_while_the_block_runs(tmp_path):
    progress, stream = tmp_path / "p.json", io.StringIO()
    write(progress, done=3, total=9, eta_s=12.0)
    with ProgressLine("nb", progress, CellCounter(), stream, interval_s=0.01, quiet_s=0.0, tty=False):
        import time
        time.sleep(0.2)
    assert "3/9 (16 cached, 8 trained), ~12s left" in stream.getvalue()


def test_missing_or_partial_progress_file_shows_the_notebook_alone(tmp_path):
    progress = tmp_path / "p.json"
    assert read_progress(progress) is None
    progress.write_text('{"desc": "x", "do')
    assert read_progress(progress) is None
    stream = io.StringIO()
    out = ProgressLine("[1/8] 01", progress, CellCounter(), stream, tty=False).poll(final=True)
    assert out.startswith("[1/8] 01 | ") and "cached" not in out


@pytest.mark.parametrize("seconds, text", [(0.4, "0s"), (42, "42s"), (185, "3m05s"), (3720, "1h02m")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_bad_interval_is_refused(tmp_path):
    with pytest.raises(ValueError, match="interval_s"):
        ProgressLine("nb", tmp_path / "p", CellCounter(), io.StringIO(), interval_s=0)
