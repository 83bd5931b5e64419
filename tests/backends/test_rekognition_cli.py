"""The CLI with ``--backend rekognition``: analyze, enroll, gallery list / remove, errors.

Through the real boto3 client and the fake service on 127.0.0.1 (:mod:`fake_rekognition`),
with fake credentials; ``~/.aws`` files and the EC2 metadata service are switched off.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

import pandas as pd
import pytest
from conftest import data_file
from fake_rekognition import isolate_aws, serve_fake

pytest.importorskip("boto3")

from feelinvideo.backends.rekognition import REK_COLUMNS, dry_run_plan  # noqa: E402
from feelinvideo.schema import FACE_COLUMNS  # noqa: E402


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """A started fake service, with the environment pointing boto3 at it; no local gallery."""
    monkeypatch.delenv("FEELINVIDEO_GALLERY", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # platformdirs' data folder
    with serve_fake(monkeypatch, tmp_path) as server:
        yield server


def _one_line_error(result) -> str:
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def _people_folder(tmp_path):
    train = data_file("face_recognition/knn_examples/train")
    folder = tmp_path / "people"
    for person in ("obama", "biden"):
        shutil.copytree(train / person, folder / person)
    shutil.copy(data_file("fer/justin.jpg"), folder / "Justin B.jpg")
    return folder


def _listed(result) -> dict[str, int]:
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "name\tphotos"
    return {name: int(count) for name, count in (line.split("\t") for line in lines[1:])}


def test_enroll_list_and_remove_commands(fake, cli, tmp_path):
    folder = _people_folder(tmp_path)
    result = cli("enroll", folder, "--backend", "rekognition", "--collection", "class")
    assert result.exit_code == 0, result.stderr
    assert "rekognition:class" in result.stderr
    assert "obama\t" in result.stdout and "Justin B\t1 photo(s) enrolled" in result.stdout
    assert fake.operations()[0] == "CreateCollection"
    index_calls = [p for op, p, _ in fake.calls if op == "IndexFaces"]
    assert {p["ExternalImageId"] for p in index_calls} == {"obama", "biden", "Justin:20B"}
    assert all(p["MaxFaces"] == 1 and p["QualityFilter"] == "AUTO" for p in index_calls)
    photos = sum(1 for p in folder.rglob("*.jpg"))
    assert len(index_calls) == photos

    listed = _listed(cli("gallery", "list", "--backend", "rekognition", "--collection", "class"))
    assert set(listed) == {"Justin B", "biden", "obama"}
    assert sum(listed.values()) == photos

    removed = cli("gallery", "remove", "obama", "--backend", "rekognition", "--collection", "class")
    assert removed.exit_code == 0, removed.stderr
    assert f"removed obama ({listed['obama']} photo(s)) from rekognition:class" in removed.stderr
    deletes = [p for op, p, _ in fake.calls if op == "DeleteFaces"]
    assert len(deletes) == 1 and len(deletes[0]["FaceIds"]) == listed["obama"]
    assert "obama" not in {f.get("ExternalImageId") for f in fake.collections["class"]}
    after = _listed(cli("gallery", "list", "--backend", "rekognition", "--collection", "class"))
    assert after == {k: v for k, v in listed.items() if k != "obama"}

    again = cli("gallery", "remove", "obama", "--backend", "rekognition", "--collection", "class")
    assert "'obama' is not enrolled (enrolled: Justin B, biden)" in _one_line_error(again)


def test_enroll_replace_and_empty_collection(fake, cli, tmp_path):
    folder = _people_folder(tmp_path)
    args = ("--backend", "rekognition", "--collection", "class")
    assert cli("enroll", folder, *args).exit_code == 0
    first = _listed(cli("gallery", "list", *args))
    replaced = cli("enroll", folder, *args, "--replace")
    assert replaced.exit_code == 0, replaced.stderr
    assert _listed(cli("gallery", "list", *args)) == first  # replaced, not added to
    assert cli("enroll", folder, *args).exit_code == 0
    assert _listed(cli("gallery", "list", *args)) == {k: 2 * v for k, v in first.items()}

    fake.collections["empty"] = []
    empty = cli("gallery", "list", "--backend", "rekognition", "--collection", "empty")
    assert _listed(empty) == {} and "the gallery is empty" in empty.stderr


def test_gallery_usage_and_collection_errors(fake, cli, tmp_path):
    folder = _people_folder(tmp_path)
    missing = cli("gallery", "list", "--backend", "rekognition", "--collection", "nobody")
    assert "Rekognition collection 'nobody' not found in region us-east-1" in _one_line_error(
        missing
    )
    missing = cli("gallery", "remove", "x", "--backend", "rekognition", "--collection", "nobody")
    assert "collection 'nobody' not found" in _one_line_error(missing)
    calls = len(fake.calls)
    usage = cli("enroll", folder, "--backend", "rekognition")
    assert usage.exit_code == 2 and "--collection" in usage.stderr
    usage = cli("gallery", "list", "--collection", "class")
    assert usage.exit_code == 2 and "--backend rekognition" in usage.stderr
    usage = cli("gallery", "remove", "obama", "--collection", "class")
    assert usage.exit_code == 2 and "--backend rekognition" in usage.stderr
    assert len(fake.calls) == calls  # usage errors call nothing


def test_analyze_end_to_end_matches_the_local_backend(fake, cli, tmp_path):
    video = data_file("fer/woman2.mp4")
    local = cli("analyze", video, "--every", 2, "--no-video", "-q", "--out", tmp_path / "local")
    assert local.exit_code == 0, local.stderr
    plan = cli("analyze", video, "--backend", "rekognition", "--every", 2, "--dry-run")
    assert plan.exit_code == 0, plan.stderr
    assert fake.calls == []  # the dry run called nothing
    rek = cli(
        "analyze", video, "--backend", "rekognition", "--every", 2, "--no-video", "-q",
        "--out", tmp_path / "rek",
    )  # fmt: skip
    assert rek.exit_code == 0, rek.stderr
    assert sorted(p.name for p in (tmp_path / "rek").iterdir()) == sorted(
        p.name for p in (tmp_path / "local").iterdir()
    )
    local_df = pd.read_csv(tmp_path / "local" / "faces.csv")
    rek_df = pd.read_csv(tmp_path / "rek" / "faces.csv")
    assert list(local_df.columns)[: len(FACE_COLUMNS)] == list(FACE_COLUMNS)
    assert list(rek_df.columns) == list(local_df.columns) + list(REK_COLUMNS)
    summary = json.loads((tmp_path / "rek" / "summary.json").read_text())
    local_summary = json.loads((tmp_path / "local" / "summary.json").read_text())
    assert summary["backend"] == "rekognition" and local_summary["backend"] == "local"
    assert set(summary) == set(local_summary)
    assert summary["sampled_frames"] == local_summary["sampled_frames"]
    assert fake.operations() == ["DetectFaces"] * summary["sampled_frames"]
    assert f"-> {summary['sampled_frames']} frames" in plan.stdout
    assert len(rek_df) == 2 * summary["sampled_frames"]
    assert (rek_df["x_min"] >= 0).all() and (rek_df["y_max"] <= 336).all()
    assert set(rek_df["dominant_emotion"]) == {"happy", "neutral"}
    assert summary["verdict"] == "interested"


def test_analyze_names_faces_from_the_collection(fake, cli, tmp_path):
    folder = tmp_path / "people"
    folder.mkdir()
    shutil.copy(data_file("face_recognition/obama.jpg"), folder / "obama.jpg")
    args = ("--backend", "rekognition", "--collection", "class")
    assert cli("enroll", folder, *args).exit_code == 0
    video = data_file("fer/woman2.mp4")
    out = tmp_path / "named"
    result = cli("analyze", video, "--every", 2, "--no-video", "-q", "--out", out, *args)
    assert result.exit_code == 0, result.stderr
    df = pd.read_csv(out / "faces.csv", keep_default_na=False)
    assert list(df.columns)[-len(REK_COLUMNS) - 2 :] == [
        *REK_COLUMNS,
        "rek_person",
        "rek_similarity",
    ]
    searches = [p for op, p, _ in fake.calls if op == "SearchFacesByImage"]
    assert 1 <= len(searches) <= len(df)
    assert all(p["FaceMatchThreshold"] == 70.0 and p["MaxFaces"] == 1 for p in searches)
    assert all(p["CollectionId"] == "class" for p in searches)
    assert set(df["rek_person"]) <= {"", "obama"} and "obama" in set(df["rek_person"])
    named = df[df["rek_person"] == "obama"]
    assert (pd.to_numeric(named["rek_similarity"]).round(1) == 99.1).all()
    assert "obama" in set(df["person"])

    strict = cli(
        "analyze", video, "--every", 2, "--no-video", "-q", "--out", tmp_path / "strict",
        *args, "--face-match-threshold", 99.5,
    )  # fmt: skip
    assert strict.exit_code == 0, strict.stderr
    df = pd.read_csv(tmp_path / "strict" / "faces.csv", keep_default_na=False)
    assert set(df["rek_person"]) == {""} and "obama" not in set(df["person"])


def test_zero_faces_still_write_the_rek_columns(fake, cli, tmp_path):
    fake.faces = []
    fake.collections["class"] = []
    video = data_file("fer/test.mp4")
    result = cli(
        "analyze", video, "--backend", "rekognition", "--every", 2, "--no-video", "-q",
        "--collection", "class", "--out", tmp_path / "out",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    header = (tmp_path / "out" / "faces.csv").read_text().strip().split(",")
    assert header[: len(FACE_COLUMNS)] == list(FACE_COLUMNS)
    assert header[-len(REK_COLUMNS) - 2 :] == [*REK_COLUMNS, "rek_person", "rek_similarity"]


def test_dry_run_prints_calls_and_cost_without_calling(fake, cli, tmp_path):
    video = data_file("fer/woman2.mp4")
    out = tmp_path / "out"
    result = cli(
        "analyze", video, "--backend", "rekognition", "--every", 1, "--collection", "class",
        "--dry-run", "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "DetectFaces: 16 calls, US$0.016 at US$0.001 per image" in result.stdout
    assert "1 call per face found" in result.stdout
    assert fake.calls == [] and not out.exists()
    from feelinvideo.video import probe

    assert dry_run_plan(video, 0).detect_calls == probe(video).frame_count  # --every 0


@pytest.mark.parametrize(
    ("operation", "code", "args", "expected"),
    [
        ("DetectFaces", "AccessDeniedException", (), "AWS Rekognition DetectFaces: access denied"),
        ("DetectFaces", "InvalidImageFormatException", (), "DetectFaces: invalid image"),
        ("SearchFacesByImage", "", ("--collection", "nobody"), "collection 'nobody' not found"),
    ],
)
def test_cli_errors_are_one_line_and_write_nothing(
    fake, cli, tmp_path, operation, code, args, expected
):
    if code:
        fake.fail(operation, code, "User: arn:aws:iam::123456789012:user/x is not authorized")
    out = tmp_path / "out"
    video = data_file("fer/test.mp4")
    result = cli("analyze", video, "--backend", "rekognition", "-q", "--out", out, *args)
    assert expected in _one_line_error(result)
    assert not out.exists()


def test_throttled_on_every_try_is_one_line(fake, cli, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")  # botocore's own setting; keeps the test short
    fake.fail("DetectFaces", "ThrottlingException", "Rate exceeded", times=1000)
    out = tmp_path / "out"
    video = data_file("fer/test.mp4")
    result = cli("analyze", video, "--backend", "rekognition", "-q", "--out", out)
    assert "AWS Rekognition DetectFaces: still throttled after 2 tries" in _one_line_error(result)
    assert not out.exists()


def test_network_unreachable_is_one_line(fake, cli, tmp_path, monkeypatch):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")  # connection errors are retried too
    out = tmp_path / "out"
    video = data_file("fer/test.mp4")
    result = cli("analyze", video, "--backend", "rekognition", "-q", "--out", out)
    assert "network unreachable" in _one_line_error(result)
    assert not out.exists()


def test_no_credentials_is_one_line(tmp_path, monkeypatch):
    isolate_aws(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("HOME", str(tmp_path))
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "feelinvideo", "analyze", str(data_file("fer/test.mp4")),
         "--backend", "rekognition", "--out", str(out)],
        capture_output=True, text=True, timeout=300, env=dict(os.environ),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == (
        "Error: no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
        "pass --profile, or run `aws configure`"
    )
    assert not out.exists()


def test_missing_boto3_says_how_to_install(cli, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 -> ImportError
    out = tmp_path / "out"
    result = cli("analyze", data_file("fer/test.mp4"), "--backend", "rekognition", "--out", out)
    assert "pip install 'feelinvideo[aws]'" in _one_line_error(result)
    assert not out.exists()
    listed = cli("gallery", "list", "--backend", "rekognition", "--collection", "class")
    assert "pip install 'feelinvideo[aws]'" in _one_line_error(listed)


def test_aws_options_need_the_rekognition_backend(cli):
    result = cli("analyze", "video.mp4", "--collection", "class")
    assert result.exit_code == 2 and "--backend rekognition" in result.stderr


def test_importing_the_cli_does_not_import_boto3():
    code = (
        "import sys, feelinvideo.cli, feelinvideo.backends.rekognition; "
        "print('boto3' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr


def test_evaluate_identity_uses_a_temporary_collection_and_deletes_it(fake, cli, tmp_path):
    folder = _people_folder(tmp_path)  # obama and biden: 2 photos each, Justin B: 1
    fake.similarity = 99.0
    result = cli("evaluate", "identity", folder, "--backend", "rekognition", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["gallery"].startswith("temporary rekognition:feelinvideo-evaluate-")
    assert len(data["enrolled"]) == 3 and data["probes"] == 2
    # the stand-in names every face as the first face indexed: both probes get a name
    assert data["right"] + data["wrong"] == 2
    assert "SearchFacesByImage" in fake.operations()
    assert fake.collections == {}  # deleted afterwards
