"""`demoforge demo` at toy size: record (faults planted) -> check -> split -> train -> eval, every artifact.

The pipeline is the real one (gym-aloha, the emulated leaders, the recorder, the checks, ACT); only
its size is small: 3 episodes (one cut short on purpose), one 24x32 camera, a few training steps,
one short rollout.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import pytest

pytest.importorskip("mujoco", reason="the demo needs the `sim` extra (gym-aloha, MuJoCo)")
pytest.importorskip("gym_aloha", reason="the demo needs the `sim` extra (gym-aloha, MuJoCo)")
pytest.importorskip("torch", reason="the demo trains ACT: needs the `train` extra (torch)")

from demoforge.cli import build_parser, main
from demoforge.commands.demo_cmd import claim_out
from demoforge.schemas.errors import ConfigError
from demoforge.schemas.splits import verify_split
from tests.demoforge.test_read_only import tree_digest

TOY = [
    "--episodes", "3", "--episode-time", "7", "--image-size", "24x32", "--cameras", "1",
    "--preset", "tiny", "--steps", "6", "--train-minutes", "30",  # the steps end it; minutes never (CI load)
    "--eval-episodes", "2", "--eval-time", "0.4",
    "--inject", "short@2:1.5",
]  # fmt: skip


def test_demo_end_to_end_then_resumes_without_overwriting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), *TOY]) == 0
    said = capsys.readouterr().out
    ds = out / "dataset"

    # record: three episodes of the simulated task, the planted fault's truth beside them
    files = sorted(p.name for p in ds.glob("episode_*.hdf5"))
    assert files == ["episode_0.hdf5", "episode_1.hdf5", "episode_2.hdf5"]
    with h5py.File(ds / "episode_0.hdf5") as f:
        assert f["/observations/images/cam_high"].shape[0] == 350
        assert f.attrs["success"] == 1  # the scripted operator transferred the cube
    faults = json.loads((ds / "faults.json").read_text())["faults"]
    assert [(x["file"], x["kind"]) for x in faults] == [("episode_2.hdf5", "short")]

    # check: the cut-short episode fails (too short, and the cube never moved over), the others pass
    report = json.loads((ds / "quality" / "report.json").read_text())
    verdicts = {e["file"]: e["verdict"] for e in report["episodes"]}
    assert verdicts == {"episode_0.hdf5": "pass", "episode_1.hdf5": "pass", "episode_2.hdf5": "fail"}
    assert (ds / "quality" / "report.html").stat().st_size > 0

    # split: the failing episode excluded with its reasons; verified against the report
    splits = verify_split(ds)
    assert sorted(splits.train + splits.val) == ["episode_0.hdf5", "episode_1.hdf5"]
    assert "success_label" in splits.excluded["episode_2.hdf5"]

    # train: a checkpoint from the passing episodes only
    run = json.loads((out / "run" / "run.json").read_text())
    assert run["steps"] == 6 and "episode_2.hdf5" not in run["train_episodes"] + run["val_episodes"]
    for name in ("best.pt", "last.pt", "loss.png", "metrics.jsonl", "config.toml"):
        assert (out / "run" / name).stat().st_size > 0

    # eval: rollouts recorded as a dataset, a video, a success rate
    ev = json.loads((out / "eval" / "eval.json").read_text())
    assert ev["episodes"] == 2 and ev["schema_version"] == 2
    # the three counts, recomputed here from the rewards the rollouts recorded (0.4 s = 20 ticks each)
    rewards = []
    for f in sorted((out / "eval" / "rollouts").glob("episode_*.hdf5")):
        with h5py.File(f) as h:
            rewards.append(h["/reward"][:])
    assert [len(r) for r in rewards] == [20, 20]
    top = 4
    assert ev["success_reached"] == sum(r.max() >= top for r in rewards) / 2
    assert ev["success_lerobot"] == sum(r[:300].max() >= top for r in rewards) / 2
    assert ev["success_held"] == sum(r[-1] >= top for r in rewards) / 2
    assert ev["stage_rates"]["1"] == sum(r.max() >= 1 for r in rewards) / 2
    assert ev["scene_seeds"][0] >= 100_000  # rollouts start from scenes no recorded episode used
    assert Path(ev["videos"][0]).stat().st_size > 0
    assert len(list((out / "eval" / "rollouts").glob("episode_*.hdf5"))) == 2

    # the summary names what a user looks at next
    summary = json.loads((out / "demo.json").read_text())
    assert summary["excluded"] == splits.excluded
    assert set(summary["stage_seconds"]) == {"record", "check", "split", "train", "eval"}
    for path in ("report.html", "best.pt", ev["videos"][0]):
        assert path.rsplit("/", 1)[-1] in said
    # 6 steps of the tiny preset are no result: said so, instead of a bare success rate
    assert summary["too_few_steps"] and summary["train_steps"] == 6
    assert "success:         too few steps for a result (6 trained" in said
    assert "too few steps for a result" in said.split("== eval:")[1].splitlines()[0]

    # a second run with the same --out skips every stage and changes no file
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.name != "demo.json"}
    assert main(["demo", "--out", str(out), *TOY]) == 0
    again = capsys.readouterr().out
    assert again.count("skipped") == 5
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps

    # a rerun with other arguments refuses before writing anything: the folder stays byte-identical
    before = tree_digest(out)
    more = [a if a != "3" else "4" for a in TOY]  # --episodes 4
    assert main(["demo", "--out", str(out), *more]) == 2
    err = capsys.readouterr().err
    assert "--episodes 3 (now 4)" in err and "Traceback" not in err
    assert tree_digest(out) == before


def test_a_demo_folder_from_before_a_new_argument_resumes(tmp_path: Path) -> None:
    # made by a demoforge without --train-max-minutes: the folder is still this demo's
    out = tmp_path / "demo"
    args = build_parser().parse_args(["demo", "--out", str(out), *TOY])
    claim_out(out, args)
    marker = out / "demo-args.json"
    old = json.loads(marker.read_text())
    del old["train_max_minutes"]
    marker.write_text(json.dumps(old))
    claim_out(out, args)  # no refusal
    old["episodes"] += 1  # while an argument the folder was made with still counts
    marker.write_text(json.dumps(old))
    with pytest.raises(ConfigError, match="--episodes"):
        claim_out(out, args)


def test_demo_refuses_a_split_that_no_longer_matches(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    claim_out(out, build_parser().parse_args(["demo", "--out", str(out), *TOY]))  # as a first run does
    (out / "dataset").mkdir(parents=True)
    (out / "dataset" / "splits.json").write_text("{}")
    for i in range(3):  # stand-ins the record stage counts as done
        (out / "dataset" / f"episode_{i}.hdf5").write_bytes(b"")
    assert main(["demo", "--out", str(out), *TOY]) == 2
    err = capsys.readouterr().err
    assert "no longer matches the data" in err and "Traceback" not in err


def test_demo_refuses_a_folder_it_did_not_make(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    before = tree_digest(out)
    assert main(["demo", "--out", str(out), *TOY]) == 2
    err = capsys.readouterr().err
    assert "not a folder the demo made (it holds notes.txt)" in err and "Traceback" not in err
    assert tree_digest(out) == before


def test_demo_refuses_other_arguments_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    claim_out(out, build_parser().parse_args(["demo", "--out", str(out), *TOY]))  # an interrupted first run
    (out / "rig.toml").write_text("# the first run's rig")
    before = tree_digest(out)
    assert main(["demo", "--out", str(out), *TOY, "--no-faults", "--cameras", "3"]) == 2
    err = capsys.readouterr().err
    assert "--cameras 1 (now 3)" in err and "--no-faults False (now True)" in err
    assert "Traceback" not in err
    assert tree_digest(out) == before
    assert not (out / "dataset").exists()


@pytest.mark.parametrize(
    "args, words",
    [
        (["--image-size", "big"], "--image-size"),
        (["--episodes", "0"], "--episodes"),
        (["--rig", "virtual"], "not a simulation rig"),
        (["--train-minutes", "9", "--train-max-minutes", "5"], "--train-max-minutes 5 is below"),
    ],
)
def test_demo_bad_options_are_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], words: str
) -> None:
    assert main(["demo", "--out", str(tmp_path / "d"), *args]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert not (tmp_path / "d").exists()  # refused before anything was written
