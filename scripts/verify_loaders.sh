#!/usr/bin/env bash
# Re-runs other projects' own loaders on files `demoforge record` writes and on `demoforge export`'s
# output, and prints what each loaded (scripts/verify_loaders.py). Not part of `make test`: it builds a
# separate environment of several GB (LeRobot and a CUDA build of torch) outside the repository.
#
#   scripts/verify_loaders.sh ACT_CHECKOUT ACT_PLUS_PLUS_CHECKOUT [WORK_DIR]
#
# ACT_CHECKOUT / ACT_PLUS_PLUS_CHECKOUT: git checkouts (or work trees) of tonyzhaozh/act and
# MarkFzp/act-plus-plus; their utils.py is imported as it is, never copied into demoforge. Pass "-" to
# skip one. Environment: VERIFY_VENV (default /tmp/demoforge-verify-venv), PYTHON (a Python 3.11:
# lerobot 0.4.x is the last release for 3.11; 0.5 and later need 3.12).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
act="${1:?usage: $0 ACT_CHECKOUT ACT_PLUS_PLUS_CHECKOUT [WORK_DIR]}"
app="${2:?usage: $0 ACT_CHECKOUT ACT_PLUS_PLUS_CHECKOUT [WORK_DIR]}"
work="${3:-$(mktemp -d /tmp/demoforge-verify.XXXXXX)}"
venv="${VERIFY_VENV:-/tmp/demoforge-verify-venv}"
python="${PYTHON:-python3.11}"
demoforge="${DEMOFORGE:-$here/.venv/bin/demoforge}"
LEROBOT_VERSION=0.4.4

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip
    # lerobot 0.4.4 pins torch < 2.11 and torchvision < 0.26; torchvision 0.26+ has no VideoReader, so
    # LeRobot decodes through torchcodec, which is built per torch release. We install the torch,
    # torchvision and torchcodec releases that match each other, lerobot itself without its pins, and
    # the libraries lerobot.datasets imports. The versions that ran are printed in the results.
    "$venv/bin/pip" install -q torch==2.14.1 torchvision==0.29.1 torchcodec==0.17.0
    "$venv/bin/pip" install -q --no-deps "lerobot==$LEROBOT_VERSION"
    "$venv/bin/pip" install -q "datasets>=4,<5" "huggingface-hub>=0.34.2,<0.36" "av>=15,<16" "accelerate>=1.10,<2" \
        jsonlines "draccus==0.10.0" einops packaging deepdiff termcolor "imageio[ffmpeg]" pandas pyarrow \
        opencv-python-headless h5py gymnasium "diffusers>=0.27.2,<0.36" pyserial \
        IPython  # IPython: both ACT utils.py import it; diffusers, pyserial: lerobot.policies imports them
fi
# torchcodec loads the system's FFmpeg libraries (Debian 12: libavcodec59)
if ! ldconfig -p | grep -q 'libavcodec\.so'; then
    echo "torchcodec needs FFmpeg's libraries: apt-get install libavcodec59 libavformat59 libavutil57 libswscale6 libswresample4 libavdevice59 libavfilter8" >&2
    exit 2
fi

# Data as a user would make it: the virtual rig records (JPEG, then raw), one episode discarded and kept.
cd "$work"
rig=(--rig virtual --episode-time 3 --reset-time 0 --label success --task "verify loaders" --unattended)
if [ ! -f recorded-jpeg/splits.json ]; then
    rm -rf recorded-jpeg
    "$demoforge" record --dataset recorded-jpeg --episodes 4 "${rig[@]}"
    "$demoforge" check recorded-jpeg --unattended >/dev/null
    "$demoforge" split recorded-jpeg --val 0.25
    # What is checked here is the loaders, not the recordings (on a loaded machine the virtual rig drops
    # frames and `check` excludes episodes): every episode goes in the split, episode_3 in val, and the
    # first loses its first 0.5 s to a trim, so the export has unequal lengths as trims make them.
    "$venv/bin/python" - recorded-jpeg/splits.json <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
doc.update(schema_version=2, train=["episode_0.hdf5", "episode_1.hdf5", "episode_2.hdf5"], val=["episode_3.hdf5"],
           holdout=[], excluded={}, trim={"episode_0.hdf5": [[0.0, 0.5]]})
json.dump(doc, open(sys.argv[1], "w"), indent=1)
PY
    # a discarded episode, kept where the recorder keeps them
    mkdir -p recorded-jpeg/discarded
    cp recorded-jpeg/episode_3.hdf5 recorded-jpeg/discarded/episode_3.20260101T000000.hdf5.discarded
fi
if [ ! -f recorded-raw/episode_1.hdf5 ]; then
    rm -rf recorded-raw
    "$demoforge" record --dataset recorded-raw --episodes 2 --raw "${rig[@]}"
fi
rm -rf lerobot lerobot-5mb-files lerobot-av1 aloha-raw aloha-raw-unequal aloha-jpeg
"$demoforge" export recorded-jpeg --to lerobot lerobot --split train,val --unattended
"$demoforge" export recorded-jpeg --to lerobot lerobot-5mb-files --split train,val --video-file-mb 5 --unattended
"$demoforge" export recorded-jpeg --to lerobot lerobot-av1 --split train,val --vcodec av1 --unattended
"$demoforge" export recorded-jpeg --to aloha aloha-raw --split train,val --raw --same-length --unattended
"$demoforge" export recorded-jpeg --to aloha aloha-raw-unequal --split train,val --raw --unattended
"$demoforge" export recorded-jpeg --to aloha aloha-jpeg --split train,val --jpeg --unattended

args=(--recorded-jpeg recorded-jpeg --recorded-raw recorded-raw --lerobot lerobot --lerobot lerobot-5mb-files --lerobot lerobot-av1 --aloha-raw aloha-raw
      --aloha-raw-unequal aloha-raw-unequal --aloha-jpeg aloha-jpeg)
[ "$act" != "-" ] && args+=(--act "$act")
[ "$app" != "-" ] && args+=(--act-plus-plus "$app")
"$venv/bin/python" -c 'import lerobot, torch, torchcodec, av; print(f"lerobot {lerobot.__version__}, torch {torch.__version__}, torchcodec {torchcodec.__version__}, av {av.__version__}")'
for repo in "$act" "$app"; do
    [ "$repo" != "-" ] && echo "$(basename "$repo"): $(git -C "$repo" rev-parse HEAD 2>/dev/null || echo 'not a git checkout')"
done
"$venv/bin/python" "$here/scripts/verify_loaders.py" "${args[@]}"
