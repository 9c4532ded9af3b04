"""Incidents: consequences of one event group under their root cause; unrelated findings stay apart."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from demoforge.quality.findings import ERROR, WARNING, Finding
from demoforge.quality.incidents import (
    CAUSE_ORDER,
    group_incidents,
    incident_cameras,
    incident_id,
    incident_of_findings,
)

DUR = 8.0


def local(check: str, a: float, b: float, sev: str = ERROR, **detail: object) -> Finding:
    return Finding(
        check, ERROR if sev == ERROR else WARNING, a, b, f"{check} msg", {"ticks": [0, 1], **detail}
    )


def whole(check: str, sev: str = ERROR, **detail: object) -> Finding:
    return Finding(check, ERROR if sev == ERROR else WARNING, 0.0, DUR, f"{check} msg", dict(detail))


def test_a_stalled_camera_is_one_incident_rooted_in_its_drop() -> None:
    fs = [
        local("stale_frame", 2.04, 2.16, camera="cam_high"),
        local("frame_drop", 2.0, 2.14, camera="cam_high"),
        local("camera_sync", 2.06, 2.16, cameras=["cam_high", "cam_left_wrist"]),
        local("frame_drop", 5.0, 5.1, camera="cam_left_wrist"),  # another camera, later: its own incident
        whole("success_label", success=-1),
    ]
    incs = group_incidents(fs, DUR)
    assert [i.number for i in incs] == [1, 2, 3]
    stall = incs[0]
    assert fs[stall.root].check == "frame_drop" and fs[stall.root].detail["camera"] == "cam_high"
    assert sorted(fs[i].check for i in stall.consequences) == ["camera_sync", "stale_frame"]
    assert (stall.start_s, stall.end_s, stall.whole) == (2.0, 2.16, False)
    assert incs[1].members == (3,)
    assert incs[2].whole and fs[incs[2].root].check == "success_label"
    assert incident_of_findings(incs, len(fs)) == [1, 1, 1, 2, 3]


def test_a_control_loop_stall_explains_every_camera_gap() -> None:
    fs = [
        local("frame_drop", 1.0, 1.2, camera="cam_high"),
        local("frame_drop", 1.0, 1.2, camera="cam_left_wrist"),
        local("control_rate", 0.98, 1.2, kind="gap"),
    ]
    (inc,) = group_incidents(fs, DUR)
    assert fs[inc.root].check == "control_rate" and len(inc.consequences) == 2


def test_cameras_dropping_together_are_one_host_stall() -> None:
    fs = [
        local("frame_drop", 1.0, 1.2, camera="cam_high"),
        local("frame_drop", 1.02, 1.2, camera="cam_left_wrist"),
        local("stale_frame", 1.1, 1.2, camera="cam_left_wrist"),
    ]
    (inc,) = group_incidents(fs, DUR)
    assert inc.root == 0 and incident_cameras(fs, inc) == ["cam_high", "cam_left_wrist"]


def test_overruns_spread_over_the_episode_explain_no_camera_gap() -> None:
    fs = [
        local("control_rate", 0.3, 7.5, WARNING, kind="overruns"),
        local("frame_drop", 2.0, 2.1, camera="cam_high"),
    ]
    assert len(group_incidents(fs, DUR)) == 2


def test_same_time_different_subjects_stay_apart() -> None:
    fs = [
        local("pause", 1.0, 2.0),
        local("frame_drop", 1.5, 1.6, camera="cam_high"),
        local("action_spike", 1.5, 1.52, WARNING, joint="waist"),
        local("joint_limit", 1.5, 1.6, joint="elbow"),
        local("joint_limit", 1.5, 1.6, joint="waist"),
    ]
    incs = group_incidents(fs, DUR)
    assert len(incs) == 4
    spike = next(i for i in incs if fs[i.root].check == "action_spike")
    assert [fs[k].detail["joint"] for k in spike.consequences] == ["waist"]
    assert spike.severity == ERROR  # the limit it caused is an error


def test_cut_off_file_explains_its_short_length_but_not_its_label() -> None:
    fs = [whole("integrity", cut_off=True), whole("length_outlier"), whole("success_label", success=0)]
    incs = group_incidents(fs, DUR)
    assert len(incs) == 2
    assert fs[incs[0].root].check == "integrity" and [fs[i].check for i in incs[0].consequences] == [
        "length_outlier"
    ]


def test_incident_ids_are_unique_per_report() -> None:
    assert incident_id("episode_3.hdf5", 2) == "episode_3#2"


checks = st.sampled_from([*CAUSE_ORDER, "new_check"])
findings = st.lists(
    st.builds(
        lambda c, a, d, w, cam: Finding(
            c,
            ERROR,
            0.0 if w else a,
            DUR if w else min(a + d, DUR),
            "m",
            {} if w else {"ticks": [0, 1], "camera": cam},
        ),
        checks,
        st.floats(0, DUR),
        st.floats(0, 2),
        st.booleans(),
        st.sampled_from(["a", "b"]),
    ),
    max_size=12,
)


@given(findings)
def test_every_finding_lands_in_exactly_one_incident(fs: list[Finding]) -> None:
    incs = group_incidents(fs, DUR)
    members = sorted(i for inc in incs for i in inc.members)
    assert members == list(range(len(fs)))
    assert [inc.number for inc in incs] == list(range(1, len(incs) + 1))
    for inc in incs:
        assert inc.start_s == min(fs[i].start_s for i in inc.members)
        assert all(
            CAUSE_ORDER.index(fs[inc.root].check) <= CAUSE_ORDER.index(fs[i].check)
            for i in inc.consequences
            if fs[i].check in CAUSE_ORDER and fs[inc.root].check in CAUSE_ORDER
        )
