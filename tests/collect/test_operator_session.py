"""What the operator is told: kept / discarded / re-recorded counted apart, and after Ctrl-C what was
kept and the one command that deals with it, with no child process output on the terminal."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from demoforge.collect.operator_display import LiveDisplay
from demoforge.collect.recorder import Recorder, RecordOptions
from demoforge.quality import Thresholds, check_dataset
from demoforge.quality.next_steps import summarize
from tests import factories as F
from tests.collect.test_recorder import Keys
from tests.collect.virtual_rig import small_virtual_rig


def test_kept_discarded_and_rerecorded_are_counted_apart(tmp_path: Path) -> None:
    rig = small_virtual_rig(tmp_path, arms=1, cameras=1)
    keys = Keys([("waiting", " "), ("keep?", "r"), ("waiting", " "), ("keep?", "d")])
    keys.script += [("waiting", " "), ("keep?", "s"), ("waiting", " "), ("keep?", "u"), ("ending", "y")]
    opts = RecordOptions(
        dataset=tmp_path / "ds", episodes=2, episode_time=0.2, reset_time=0.0, unattended=False
    )
    display = LiveDisplay(Console(file=io.StringIO(), width=160))
    rec = Recorder(rig, opts, operator=keys, display=display)
    keys.recorder = rec
    with display:
        results = rec.run()
        panel = Console(file=io.StringIO(), width=160, record=True)
        panel.print(display.render(rec))
    assert [r.kept for r in results] == [False, False, True, True]
    assert rec.tally.line() == "2 kept of 2 · 1 discarded · 1 re-recorded"
    assert "2 kept of 2 · 1 discarded · 1 re-recorded" in panel.export_text()


def signal_masks(pid: int) -> str:
    """The Sig* lines of every thread of `pid` (/proc), for a failure message."""
    rows = []
    for task in sorted(Path(f"/proc/{pid}/task").iterdir()):
        with contextlib.suppress(OSError):
            status = (task / "status").read_text().splitlines()
            sig = [ln for ln in status if ln.startswith(("Name", "Sig", "ShdPnd"))]
            rows.append(f"{pid}/{task.name}: " + " ".join(sig))
    return "\n".join(rows)


def test_ctrl_c_mid_episode_says_what_was_kept_and_what_to_run(tmp_path: Path) -> None:
    small_virtual_rig(tmp_path, arms=1, cameras=1)  # emulated chains in a child process
    ds = tmp_path / "ds"
    cmd = [sys.executable, "-m", "demoforge", "record", "--rig", str(tmp_path / "rig.toml")]
    cmd += ["--dataset", str(ds), "--episodes", "2", "--episode-time", "60", "--unattended"]
    # a terminal's Ctrl-C: SIGINT to the whole foreground process group, children included
    # (PYTHONFAULTHANDLER: a run that does not end is made to print every thread's stack, below)
    env = {**os.environ, "PYTHONFAULTHANDLER": "1"}
    # A terminal's foreground job starts with SIGINT at its default action. A test run started as a
    # background job of a non-interactive shell (`cmd &`, nohup, some CI runners) ignores SIGINT, and an
    # ignored signal stays ignored across exec: Python then installs no KeyboardInterrupt handler and the
    # Ctrl-C below would be lost (what made this test time out when the suite ran in the background).
    p = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert p.stdout is not None
    for line in p.stdout:
        if line.startswith("recording episode 0"):
            os.killpg(p.pid, signal.SIGINT)
            break
    try:
        out, err = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        # The interrupt never reached Python. What each thread blocks, ignores and catches says why,
        # with the stacks.
        masks = signal_masks(p.pid) + signal_masks(os.getpid())
        p.send_signal(signal.SIGABRT)
        out, err = p.communicate(timeout=30)
        pytest.fail(f"record did not end within 120 s of Ctrl-C\n{masks}\n{err[-6000:]}\n{out[-1500:]}")
    assert p.returncode == 130, (out[-1500:], err[-1500:])
    assert "Traceback" not in err and "Process dynamixel-emulator" not in err, err
    assert "interrupted: 0 kept of 2" in out
    assert "episode_0.hdf5 was cut off at" in out and "complete=false, unlabelled" in out
    assert f"`demoforge record --rig {tmp_path / 'rig.toml'} --dataset {ds} --episodes 2`" in out
    assert (ds / "episode_0.hdf5").is_file()  # kept, not deleted


def test_a_cut_off_unlabelled_episode_gets_one_piece_of_advice(tmp_path: Path) -> None:
    stub = F.clean_recording(60, seed=1)
    stub.success, stub.complete = -1, False
    F.write_dataset(tmp_path, [F.clean_recording(120, seed=0), stub])
    summary = summarize(check_dataset(tmp_path, Thresholds()))
    advice = [c for c in summary.failures if "episode_1.hdf5" in c.episodes]
    assert [c.check for c in advice] == ["integrity"], [(c.check, c.step) for c in advice]
    assert "label" not in advice[0].step
