"""`feelinvideo enroll` and `feelinvideo gallery`: real photos from ../shared/data."""

from __future__ import annotations

import shutil
import sqlite3

import numpy as np
import pytest
from conftest import data_file

from feelinvideo.errors import GalleryError
from feelinvideo.identity.enroll import find_photos
from feelinvideo.identity.gallery import default_gallery_path
from feelinvideo.identity.sqlite import SqliteGallery as Gallery


@pytest.fixture()
def photo_dir(tmp_path):
    """obama.jpg, biden.jpg (one photo a person), no-faces.jpg and two_people.jpg."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for rel in ("face_recognition/obama.jpg", "face_recognition/biden.jpg", "fer/no-faces.jpg"):
        shutil.copy(data_file(rel), folder)
    shutil.copy(data_file("face_recognition/two_people.jpg"), folder / "two_people.jpg")
    return folder


def test_enroll_by_file_name_skips_no_face_and_takes_largest(cli, photo_dir, tmp_path):
    gallery = tmp_path / "g.sqlite"
    result = cli("enroll", photo_dir, "--gallery", gallery)
    assert result.exit_code == 0, result.output
    assert "no-faces.jpg: no face found" in result.stderr
    assert "no-faces: no usable photo, not enrolled" in result.stderr
    assert "two_people.jpg: 2 faces found, used the largest" in result.stderr
    names = [line.split("\t")[0] for line in result.stdout.splitlines()]
    assert names == ["biden", "obama", "two_people"]
    with Gallery(gallery) as g:
        assert g.people() == {"biden": 1, "obama": 1, "two_people": 1}
        # names and 128-d embeddings only, no images
        tables = {r[0] for r in g._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert tables == {"meta", "people", "embeddings"}
    # nothing in the file but names, numbers and 1 KiB vectors
    assert gallery.stat().st_size < 64 * 1024


def test_enroll_again_adds_and_replace_replaces(cli, tmp_path):
    folder = tmp_path / "p"
    (folder / "obama").mkdir(parents=True)
    shutil.copy(data_file("face_recognition/obama.jpg"), folder / "obama" / "a.jpg")
    gallery = tmp_path / "g.sqlite"
    assert cli("enroll", folder, "--gallery", gallery).exit_code == 0
    assert cli("enroll", folder, "--gallery", gallery).exit_code == 0
    assert cli("gallery", "list", "--gallery", gallery).stdout == "name\tphotos\nobama\t2\n"
    assert cli("enroll", folder, "--gallery", gallery, "--replace").exit_code == 0
    assert cli("gallery", "list", "--gallery", gallery).stdout == "name\tphotos\nobama\t1\n"


def test_enroll_nobody_exits_nonzero(cli, tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    shutil.copy(data_file("fer/no-faces.jpg"), folder / "nobody.jpg")
    result = cli("enroll", folder, "--gallery", tmp_path / "g.sqlite")
    assert result.exit_code == 1
    assert "nobody.jpg: no face found" in result.stderr
    assert "nobody enrolled" in result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli("enroll", empty, "--gallery", tmp_path / "g2.sqlite")
    assert result.exit_code == 1 and "holds no photos" in result.stderr
    assert not (tmp_path / "g2.sqlite").exists()


def test_gallery_list_remove_round_trip(tmp_path, cli):
    path = tmp_path / "g.sqlite"
    rng = np.random.default_rng(0)
    with Gallery(path, create=True) as g:
        g.add("ada", rng.normal(size=(2, 128)))
        g.add("bob", rng.normal(size=(1, 128)))
        names, vectors = g.embeddings()
        assert names == ["ada", "ada", "bob"] and vectors.shape == (3, 128)
    assert cli("gallery", "list", "--gallery", path).stdout == "name\tphotos\nada\t2\nbob\t1\n"
    result = cli("gallery", "remove", "ada", "--gallery", path)
    assert result.exit_code == 0 and "removed ada (2 photo(s))" in result.stderr
    assert cli("gallery", "list", "--gallery", path).stdout == "name\tphotos\nbob\t1\n"
    result = cli("gallery", "remove", "ada", "--gallery", path)
    assert result.exit_code == 1
    assert "'ada' is not enrolled (enrolled: bob)" in result.stderr
    with sqlite3.connect(path) as db:  # embeddings went with the person
        assert db.execute("SELECT COUNT(*) FROM embeddings").fetchone() == (1,)


@pytest.mark.parametrize("content", [b"this is not a database" * 100, b""])
def test_corrupt_gallery_is_one_line_error(cli, tmp_path, content):
    path = tmp_path / "g.sqlite"
    path.write_bytes(content)
    result = cli("gallery", "list", "--gallery", path)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and str(path) in lines[0]
    assert "not a feelinvideo gallery" in lines[0]
    with pytest.raises(GalleryError):
        Gallery(path)


def test_missing_gallery_is_an_error(cli, tmp_path):
    result = cli("gallery", "list", "--gallery", tmp_path / "nope.sqlite")
    assert result.exit_code == 1 and "no such gallery" in result.stderr


def test_default_gallery_path_env(monkeypatch, tmp_path):
    monkeypatch.setenv("FEELINVIDEO_GALLERY", str(tmp_path / "x.sqlite"))
    assert default_gallery_path() == tmp_path / "x.sqlite"
    monkeypatch.delenv("FEELINVIDEO_GALLERY")
    assert default_gallery_path().name == "gallery.sqlite"
    assert "feelinvideo" in str(default_gallery_path())


def test_find_photos_mixed_layouts(tmp_path):
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "1.JPG").write_bytes(b"x")
    (tmp_path / "ann" / "notes.txt").write_bytes(b"x")
    (tmp_path / "ann.png").write_bytes(b"x")
    (tmp_path / "bo.jpeg").write_bytes(b"x")
    (tmp_path / ".hidden.jpg").write_bytes(b"x")
    found = find_photos(tmp_path)
    assert list(found) == ["ann", "bo"]
    assert [p.name for p in found["ann"]] == ["1.JPG", "ann.png"]
