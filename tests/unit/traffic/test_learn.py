"""`zonewall learn`: the draft checks clean, is formatted, and replaying the same flows against
it blocks nothing; bad input is a file:line:col error and writes nothing (issue 16)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from traffic_helpers import HOSPITAL, HOSPITAL_FLOWS, replayed, run, write

from zonewall.dsl.printer import format_policy
from zonewall.report import run_check


def _replay(path: str, flows: list[str]) -> tuple[int, int]:
    r = replayed(path, flows)
    return len(r.blocked), r.permitted.flows


def test_learn_from_the_example_hospital(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "draft.zw"
    code, stdout, err = run(capsys, "learn", *HOSPITAL_FLOWS, "--policy", HOSPITAL, "-o", str(out))
    assert code == 0 and stdout == ""
    assert "allow(s)" in err
    text = out.read_text(encoding="utf-8")
    assert format_policy(text, str(out)) == text  # fmt layout
    report = run_check(str(out))
    assert report.compiled is not None and report.errors == 0
    assert {d.code for d in report.diagnostics} <= {"W104", "W105"}
    assert all(a.status == "pass" for a in report.assertions)
    blocked, permitted = _replay(str(out), HOSPITAL_FLOWS)
    assert blocked == 0 and permitted > 0
    # the forgotten clinical flow is learned, with what was seen
    line = next(x for x in text.splitlines() if x.startswith("allow lab_analyzer -> lis : hl7"))
    assert line.endswith(
        '"learned: 14 flow(s), 3,563 packet(s), 2025-03-03T08:12Z .. 2025-03-03T18:06Z"'
    )
    assert "assert only ehr_app -> ehr_db" in text  # a critical class's sources
    assert "assert limited lab_analyzer -> any : astm, hl7" in text
    assert "10.60.3.0/24" in text  # unknown space, as a comment


def test_learn_is_deterministic_and_prints_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    args = ("learn", *HOSPITAL_FLOWS, "--policy", HOSPITAL)
    first = run(capsys, *args)
    assert first[0] == 0 and first[1].startswith("# A draft policy")
    assert run(capsys, *args)[1] == first[1]


def test_min_flows_turns_rare_flows_into_comments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "draft.zw"
    code, _, _ = run(
        capsys,
        "learn",
        *HOSPITAL_FLOWS,
        "--policy",
        HOSPITAL,
        "--min-flows",
        "5",
        "-o",
        str(out),
    )
    assert code == 0
    text = out.read_text(encoding="utf-8")
    assert "# allow pump_server -> pump_vendor : https" in text  # 2 flows: for review
    report = run_check(str(out))
    assert report.compiled is not None and report.errors == 0


CLASSES = """\
ip,name,type,class,criticality
10.40.16.0/22,,,infusion_pump,critical
10.40.40.2,pumpsrv-1,server,pump_server,high
10.40.40.3,pumpsrv-2,server,pump_server,
10.40.2.0/24,,,clinician_ws,
10.40.4.0/24,,,clinician_ws,
"""

CLASS_FLOWS = """\
src,sport,dst,dport,proto,packets,first_seen
10.40.16.29,40562,10.40.40.2,443,tcp,340,2025-03-03T07:06:23Z
10.40.16.15,54614,10.40.40.3,443,tcp,158,2025-03-03T07:11:03Z
10.40.40.2,443,10.40.16.15,54614,tcp,150,2025-03-03T07:11:04Z
10.40.2.18,46464,93.184.216.34,443,tcp,90,2025-03-03T07:20:49Z
10.40.4.35,50438,10.40.40.2,8443,tcp,15,2025-03-03T07:26:48Z
10.40.4.35,50439,10.40.40.2,4711,tcp,15,2025-03-03T07:26:48Z
10.40.2.18,53000,10.40.16.5,11112,tcp,9,2025-03-03T07:30:00Z
10.40.2.18,53001,10.99.0.4,445,tcp,9,2025-03-03T07:31:00Z
"""


def test_learn_from_a_class_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    classes = write(
        tmp_path,
        "classes.csv",
        CLASSES.replace("ip,", "subnet,", 1)
        .replace("10.40.40.2,", "10.40.40.2/32,")
        .replace("10.40.40.3,", "10.40.40.3/32,"),
    )
    flows = write(tmp_path, "flows.csv", CLASS_FLOWS)
    out = tmp_path / "draft.zw"
    code, _, err = run(capsys, "learn", flows, "--classes", classes, "-o", str(out))
    assert code == 0, err
    text = out.read_text(encoding="utf-8")
    report = run_check(str(out))
    assert report.compiled is not None and report.errors == 0, report.diagnostics
    assert "class pump_server   { subnet 10.40.40.2/31  criticality high }" in text
    assert "allow infusion_pump -> pump_server : https" in text  # the reply record folded in
    assert "pump_server -> infusion_pump" not in text
    assert "allow clinician_ws -> pump_server : https_alt" in text  # well-known 8443
    assert "service https_alt = tcp/8443" in text
    assert "allow clinician_ws -> pump_server : tcp/4711" in text  # no name: a literal
    assert "allow clinician_ws -> infusion_pump : dicom" in text
    assert "allow clinician_ws -> internet : https" in text
    assert "#   10.99.0.0/24: 1 flow(s)" in text
    assert "assert only clinician_ws -> infusion_pump" in text
    assert _replay(str(out), [flows])[0] == 0


@pytest.mark.parametrize(
    "text, where, message",
    [
        ("ip,name\n10.1.1.1,a\n", "classes.csv:1:1", "needs a 'class' column"),
        ("ip,class\n10.1.1.1,pumps\n10.1.1.300,pumps\n", "classes.csv:3:1", "not an IPv4 address"),
        ("ip,class\n10.1.1.1,Pumps\n", "classes.csv:2:10", "not a zonewall name"),
        ("ip,class\n10.1.1.1,pumps\n10.1.1.1,servers\n", "classes.csv:3:10", "overlaps"),
        ("ip,class\n10.1.1.1,\n", "classes.csv:2:1", "names no class"),
        ("subnet,class\n10.1.1.5/24,pumps\n", "classes.csv:2:1", "host bits set"),
        ("subnet,class\n10.1.1.0/24,any\n", "classes.csv:2:13", "reserved word"),
    ],
    ids=["no-class-column", "bad-ip", "bad-name", "overlap", "no-class", "host-bits", "reserved"],
)
def test_a_bad_class_list_is_an_error_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, where: str, message: str
) -> None:
    os.chdir(tmp_path)
    write(tmp_path, "classes.csv", text)
    flows = write(tmp_path, "flows.csv", CLASS_FLOWS)
    code, out, err = run(capsys, "learn", flows, "--classes", "classes.csv", "-o", "draft.zw")
    assert code == 1 and out == ""
    assert err.startswith(f"{where}: error[E112]: ") and message in err, err
    assert "^" in err
    assert not (tmp_path / "draft.zw").exists()


def test_learn_usage_and_unreadable_flows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = HOSPITAL
    assert run(capsys, "learn", *HOSPITAL_FLOWS)[0] == 2  # neither --policy nor --classes
    assert run(capsys, "learn", *HOSPITAL_FLOWS, "--policy", policy, "--min-flows", "0")[0] == 2
    bad = write(tmp_path, "bad.csv", "src,dst,proto,dport\n" + "x,y,tcp,1\n" * 5)
    out = tmp_path / "draft.zw"
    code, _, err = run(capsys, "learn", bad, "--policy", policy, "-o", str(out))
    assert code == 1 and "bad.csv:2" in err and not out.exists()


def test_learn_never_writes_through_a_symlink(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "elsewhere.zw"
    target.write_text("keep\n", encoding="utf-8")
    link = tmp_path / "draft.zw"
    link.symlink_to(target)
    code, _, err = run(capsys, "learn", *HOSPITAL_FLOWS, "--policy", HOSPITAL, "-o", str(link))
    assert code == 1 and "nothing written" in err
    assert target.read_text(encoding="utf-8") == "keep\n"


def test_class_names_never_collide_with_the_draft_s_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    classes = write(
        tmp_path,
        "classes.csv",
        "subnet,class\n10.40.16.0/22,internet\n10.40.40.0/28,fw\n10.40.2.0/24,https\n",
    )
    flows = write(tmp_path, "flows.csv", CLASS_FLOWS)
    code, out, err = run(capsys, "learn", flows, "--classes", classes)
    assert code == 0, err
    assert "external internet_2 {" in out and "gateway fw_2 {" in out
    assert "service https" not in out and "tcp/443" in out  # 'https' names a class here


def test_atoms_of_one_name_make_one_allow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from traffic_helpers import compiled

    compiled(tmp_path)  # policy.zw: 'cloud' is two atoms (inside and outside 'vendor')
    flows = write(
        tmp_path,
        "f.csv",
        "src,dst,proto,dport\n10.10.2.9,203.0.113.200,tcp,443\n"
        "10.10.2.9,198.51.100.5,tcp,443\n10.10.2.9,203.0.113.5,tcp,443\n",
    )
    code, out, err = run(capsys, "learn", flows, "--policy", str(tmp_path / "policy.zw"))
    assert code == 0, err
    allows = [line.split('"')[0].split() for line in out.splitlines() if line.startswith("allow")]
    assert allows == [
        ["allow", "servers", "->", "cloud", ":", "https"],
        ["allow", "servers", "->", "vendor", ":", "https"],
    ]
    draft = write(tmp_path, "draft.zw", out)
    assert _replay(draft, [flows])[0] == 0
    # with the internet seen too, its allow covers the others, which are left out (W102)
    more = write(tmp_path, "g.csv", "src,dst,proto,dport\n10.10.2.9,8.8.8.8,tcp,443\n")
    code, out, err = run(capsys, "learn", flows, more, "--policy", str(tmp_path / "policy.zw"))
    assert [
        line.split('"')[0].split()[3] for line in out.splitlines() if line.startswith("allow")
    ] == ["internet"]
