"""`feelinvideo enroll` and `feelinvideo gallery`: real photos from ../shared/data."""

from __future__ import annotations

import shutil
import sqlite3

import numpy as np
import pytest
from conftest import data_file

from feelinvideo.errors import GalleryError
from feelinvideo.galleries.enroll import find_photos
from feelinvideo.galleries.interface import default_gallery_path
from feelinvideo.galleries.sqlite import SqliteGallery as Gallery


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


def _enroll_worker(path: str, name: str) -> None:
    """One process adding one person to a gallery that may not exist yet."""
    with Gallery(path, create=True) as g:
        g.add(name, np.random.default_rng(len(name)).normal(size=(2, 128)))


def test_concurrent_enrolls_into_a_new_gallery_keep_everyone(tmp_path):
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    for trial in range(4):
        path = str(tmp_path / f"g{trial}.sqlite")
        workers = [ctx.Process(target=_enroll_worker, args=(path, n)) for n in ("ada", "bob")]
        for w in workers:
            w.start()
        for w in workers:
            w.join(60)
        assert [w.exitcode for w in workers] == [0, 0]
        with Gallery(path) as g:
            assert g.people() == {"ada": 2, "bob": 2}


def test_oversized_photo_is_skipped_with_a_warning_and_the_rest_enrolled(
    cli, tmp_path, monkeypatch
):
    from PIL import Image

    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(data_file("face_recognition/obama.jpg"), photos / "obama.jpg")
    Image.new("L", (3000, 3000), 120).save(photos / "huge.png")  # 9 Mpx, a tiny file
    # a lower limit stands in for a 14000x14000 photo: obama.jpg (1 Mpx) stays under it
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2_000_000)
    result = cli("enroll", photos, "--gallery", tmp_path / "g.sqlite")
    assert result.exit_code == 0, result.output
    assert "huge.png: too large" in result.stderr
    assert result.stdout.startswith("obama\t1 photo(s) enrolled")
    assert len([line for line in result.stderr.splitlines() if "huge.png" in line]) == 1


def test_names_with_control_characters_are_refused(tmp_path):
    from feelinvideo.errors import GalleryError as Refused
    from feelinvideo.galleries.enroll import check_name

    for bad in ("ada\tlovelace", "bob\nsmith", "unknown-3", "  "):
        with pytest.raises(Refused):
            check_name(bad)
    assert check_name("  José Ñ ") == "José Ñ"
