"""ONNX export and the public load_policy: same chunks as the checkpoint, metadata, refusals, eval/deploy."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("onnx", reason="export needs the `edge` extra")
pytest.importorskip("onnxruntime", reason="export needs the `edge` extra")
pytest.importorskip("onnxscript", reason="export needs the `edge` extra")

import onnx

from demoforge.cli import main
from demoforge.policy import load_policy
from demoforge.policy.checkpoint import load_checkpoint
from demoforge.policy.checkpoint import load_policy as load_trained
from demoforge.policy.errors import PolicyError
from demoforge.policy.export import export_onnx, random_samples
from demoforge.policy.onnx_policy import metadata_props, read_metadata
from demoforge.schemas.episode_reader import EpisodeReader
from demoforge.schemas.errors import ConfigError
from demoforge.schemas.splits import verify_split
from tests.collect.virtual_rig import small_virtual_rig
from tests.policy.conftest import make_split_dataset
from tests.policy.test_runner import tiny_checkpoint

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny run trained for 3 steps on a checked, split dataset (6 joints, 3 cameras), and its export."""
    root = tmp_path_factory.mktemp("export")
    data = make_split_dataset(root / "data")
    cfg = root / "c.toml"
    cfg.write_text("[train]\nsteps = 3\nval_every = 3\nlog_every = 3\nworkers = 0\n")
    args = ["train", str(data), "--out", str(root / "run"), "--preset", "tiny", "--config", str(cfg)]
    assert main([*args, "--unattended"]) == 0
    assert main(["export-policy", str(root / "run" / "best.pt"), "--to", "onnx", str(root / "p.onnx")]) == 0
    return root


@pytest.mark.parametrize("size", [(24, 32), (480, 640), (17, 23), (90, 200)])
def test_checkpoint_and_export_give_the_same_chunk_at_any_image_size(
    run: Path, size: tuple[int, int]
) -> None:
    torch_policy = load_policy(run / "run" / "best.pt", "cpu", "fp32")
    onnx_policy = load_policy(run / "p.onnx", "cpu")
    assert onnx_policy.runtime.startswith("onnxruntime CPUExecutionProvider")
    assert onnx_policy.cameras == torch_policy.cameras == {c: (24, 32) for c in torch_policy.cameras}
    assert (onnx_policy.n_joints, onnx_policy.chunk_size) == (torch_policy.n_joints, torch_policy.chunk_size)
    rng = np.random.default_rng(sum(size))
    for _ in range(3):
        images = {c: rng.integers(0, 256, (*size, 3), dtype=np.uint8) for c in torch_policy.cameras}
        qpos = rng.normal(0, 0.5, torch_policy.n_joints)
        a = torch_policy.predict_chunk(images, qpos)
        b = onnx_policy.predict_chunk(images, qpos)
        assert a.shape == b.shape == (torch_policy.chunk_size, torch_policy.n_joints)
        assert np.abs(a - b).max() <= 1e-4  # rad (raw joint units), fp32
        assert np.abs(a).max() > 1e-2  # raw units: the denormalization is in the graph


def test_the_exports_metadata_round_trips(run: Path) -> None:
    policy = load_policy(run / "p.onnx", "cpu")
    state = load_checkpoint(run / "run" / "best.pt")
    with EpisodeReader(run / "data" / "episode_0.hdf5") as r:
        joint_names, fps = r.joint_names, r.fps
    assert policy.joint_names == joint_names
    assert list(policy.cameras) == state["meta"]["cameras"]
    assert policy.meta["fps"] == fps == 50
    assert policy.meta["report_sha256"] == verify_split(run / "data").report_sha256
    assert policy.meta["chunk_size"] == state["config"]["model"]["chunk_size"] == policy.chunk_size
    assert policy.meta["config"] == state["config"]
    assert {k: v for k, v in state["meta"].items() if k != "cameras"}.items() <= policy.meta.items()
    assert policy.ensemble_config() == policy.config.ensemble
    assert policy.meta["precision"] == "fp32" and 0 <= policy.meta["verified_max_diff"] <= 1e-3
    model = onnx.load(str(run / "p.onnx"))
    assert [i.name for i in model.graph.input] == ["qpos", *(f"image_{c}" for c in policy.cameras)]
    assert [o.name for o in model.graph.output] == ["actions"]


@settings(max_examples=50, deadline=None)
@given(
    st.dictionaries(
        st.text(min_size=1).filter(lambda k: k != "demoforge_format"),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
            lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
            max_leaves=8,
        ),
    )
)
def test_metadata_props_read_back_as_written(meta: dict[str, object]) -> None:
    assert read_metadata(metadata_props(meta), Path("x.onnx")) == meta


def test_a_foreign_or_damaged_onnx_file_is_refused(run: Path, tmp_path: Path) -> None:
    model = onnx.load(str(run / "p.onnx"))
    del model.metadata_props[:]
    onnx.save(model, str(tmp_path / "foreign.onnx"))
    with pytest.raises(ConfigError, match="not a policy exported by demoforge"):
        load_policy(tmp_path / "foreign.onnx", "cpu")
    (tmp_path / "damaged.onnx").write_bytes((run / "p.onnx").read_bytes()[:5000])
    with pytest.raises(ConfigError, match="cannot be read"):
        load_policy(tmp_path / "damaged.onnx", "cpu")
    with pytest.raises(PolicyError, match="exported in fp32"):
        load_policy(run / "p.onnx", "cpu", "bf16")


def test_export_refuses_when_onnxruntime_and_pytorch_disagree(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "strict.onnx"
    args = ["export-policy", str(run / "run" / "best.pt"), "--to", "onnx", str(out), "--tolerance", "1e-12"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "differ from PyTorch's by up to" in err and "not written" in err
    assert not out.exists() and not list(tmp_path.glob("*.onnx"))  # nor a partial file


def test_export_without_its_training_data_names_the_fix(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(run / "run" / "best.pt", tmp_path / "best.pt")  # no run.json beside it
    assert main(["export-policy", str(tmp_path / "best.pt"), "--to", "onnx", str(tmp_path / "p.onnx")]) == 2
    assert "--data" in capsys.readouterr().err
    args = ["export-policy", str(tmp_path / "best.pt"), "--to", "onnx", str(tmp_path / "p.onnx")]
    assert main([*args, "--data", str(run / "data"), "--samples", "2"]) == 0


def test_fp16_export_stays_close_to_the_checkpoint(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "half.onnx"
    assert main(["export-policy", str(run / "run" / "best.pt"), "--to", "onnx", str(out), "--fp16"]) == 0
    policy = load_policy(out, "cpu")
    assert policy.meta["precision"] == "fp16" and policy.meta["verified_max_diff"] <= 2e-2
    with pytest.raises(PolicyError, match="exported in fp16"):
        load_policy(out, "cpu", "fp32")


def test_an_onnx_policy_runs_without_torch(run: Path) -> None:
    code = (
        "import sys, numpy as np\n"
        "from demoforge.policy import load_policy\n"
        f"p = load_policy({str(run / 'p.onnx')!r}, 'cpu')\n"
        "imgs = {c: np.zeros((48, 64, 3), np.uint8) for c in p.cameras}\n"
        "print(p.predict_chunk(imgs, np.zeros(p.n_joints)).shape, 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "(10, 6) False"


def test_deploy_runs_an_onnx_policy_on_the_virtual_rig(tmp_path: Path) -> None:
    rig = small_virtual_rig(tmp_path, arms=1, cameras=1)
    ckpt = tiny_checkpoint(tmp_path / "best.pt", 3, ["cam_high"], rig.start_pose)
    export_onnx(ckpt, tmp_path / "p.onnx", random_samples(load_trained(ckpt)), fps=rig.fps)
    args = ["deploy", "--rig", str(tmp_path / "rig.toml"), "--checkpoint", str(tmp_path / "p.onnx")]
    assert main([*args, "--record", str(tmp_path / "rollouts"), "--episode-time", "1", "--unattended"]) == 0
    with EpisodeReader(tmp_path / "rollouts" / "episode_0.hdf5") as r:
        assert r.length == 50
        action = r.action
    assert np.abs(action - np.asarray(rig.start_pose)).max() < 0.2  # the policy's own outputs, clamped


def test_eval_of_an_onnx_export_completes_a_rollout_on_the_simulated_rig(tmp_path: Path) -> None:
    pytest.importorskip("gym_aloha", reason="the simulated rig needs the `sim` extra")
    from demoforge.collect.rigs import resolve_rig

    rig = resolve_rig("sim-transfer-cube")
    ckpt = tiny_checkpoint(tmp_path / "best.pt", 14, ["cam_high"], rig.start_pose)
    export_onnx(ckpt, tmp_path / "p.onnx", random_samples(load_trained(ckpt)), fps=rig.fps)
    out = tmp_path / "eval"
    args = ["eval", str(tmp_path / "p.onnx"), "--rig", "sim-transfer-cube", "--episodes", "1"]
    assert main([*args, "--episode-time", "0.3", "--videos", "0", "--out", str(out)]) == 0
    summary = json.loads((out / "eval.json").read_text())
    assert summary["runtime"].startswith("onnxruntime") and summary["episodes"] == 1
    assert summary["rollouts"][0]["ticks"] == 15 and summary["rollouts"][0]["max_reward"] is not None
    assert summary["inference_latency"]["count"] >= 1


class StandInRobot:
    """What the docs' `robot` offers: frames and positions in, commands out (nothing to drive here)."""

    def __init__(self, n_joints: int) -> None:
        self.n_joints, self.commands, self.rng = n_joints, list[np.ndarray](), np.random.default_rng(0)

    def rgb(self, cam: str) -> np.ndarray:
        return self.rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)

    def qpos(self) -> np.ndarray:
        return np.zeros(self.n_joints)

    def command(self, action: np.ndarray) -> None:
        self.commands.append(action)

    def wait_for_next_tick(self) -> None:
        pass


def test_the_docs_control_loop_runs_as_written(run: Path) -> None:
    doc = (ROOT / "docs" / "edge-deployment.md").read_text()
    code = doc.split("## In your own control code", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert len(code.strip().splitlines()) <= 12  # the ten-line promise, imports included
    robot = StandInRobot(6)
    code = code.replace('"cube.onnx"', repr(str(run / "p.onnx"))).replace("range(400)", "range(12)")
    exec(code, {"robot": robot})
    assert len(robot.commands) == 12 and all(c.shape == (6,) for c in robot.commands)


def test_execution_providers_follow_the_device() -> None:
    import onnxruntime as ort

    from demoforge.policy.onnx_policy import providers

    cache = Path("p.trt")
    assert providers("cpu", "fp32", cache) == ["CPUExecutionProvider"]
    assert providers("auto", "fp32", cache)[-1] == "CPUExecutionProvider"  # GPUs first where present
    with pytest.raises(PolicyError, match="use auto, cpu, cuda"):
        providers("tpu", "fp32", cache)
    if "CUDAExecutionProvider" not in ort.get_available_providers():  # this CPU build of onnxruntime
        with pytest.raises(PolicyError, match="no CUDA or TensorRT provider"):
            providers("cuda:1", "fp32", cache)
