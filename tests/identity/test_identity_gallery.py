"""`feelinvideo enroll` and `feelinvideo gallery`: real photos from ../shared/data."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, data_file, small_disk

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


def _enroll_worker(paths: list[str], people: dict, start) -> None:
    """One process opening each (new) gallery of ``paths`` as enrolment does
    (``GallerySpec(create=True)``) and adding ``{name: embeddings (K, 128)}``, released
    together with the other process by the barrier ``start`` for each gallery."""
    from feelinvideo.specs import GallerySpec

    for path in paths:
        start.wait(60)
        with GallerySpec(path=path, create=True).open() as g:
            for name, vectors in people.items():
                g.add(name, vectors)


def _enroll_cli(folder, gallery) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.Popen(
        [sys.executable, "-m", "feelinvideo", "enroll", str(folder), "--gallery", str(gallery)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_two_enrols_into_one_new_gallery_at_once_keep_everyone(cli, tmp_path):
    """Issue 26: two enrolments of different folders into one new gallery at the same
    moment: both succeed and the gallery holds all five people. 200 new galleries, each
    filled by the gallery code of ``enroll`` in two processes released together by a
    barrier (the embeddings computed once, from the real photos), then two
    ``feelinvideo enroll`` commands started together. Before, switching a new file to WAL
    failed with "database is locked" in about 1 of 100 such tries (10 were not enough to
    see it)."""
    import multiprocessing

    train = data_file("face_recognition/knn_examples/train")
    folders = [tmp_path / "first", tmp_path / "second"]
    halves = [("alex_lacamoire", "biden"), ("kit_harington", "obama", "rose_leslie")]
    for folder, names in zip(folders, halves, strict=True):
        for name in names:
            shutil.copytree(train / name, folder / name)
    assert cli("enroll", train, "--gallery", tmp_path / "all.sqlite").exit_code == 0
    with Gallery(tmp_path / "all.sqlite") as g:
        everyone = g.people()
        names, vectors = g.embeddings()
    assert len(everyone) == 5
    parts = [
        {n: vectors[[i for i, m in enumerate(names) if m == n]] for n in half} for half in halves
    ]
    ctx = multiprocessing.get_context("spawn")
    paths = [str(tmp_path / f"g{trial}.sqlite") for trial in range(200)]
    start = ctx.Barrier(2)
    workers = [ctx.Process(target=_enroll_worker, args=(paths, p, start)) for p in parts]
    for w in workers:
        w.start()
    for w in workers:
        w.join(180)
    assert [w.exitcode for w in workers] == [0, 0]
    for path in paths:
        with Gallery(path) as g:
            assert g.people() == everyone, path
    gallery = tmp_path / "cli.sqlite"
    runs = [_enroll_cli(folder, gallery) for folder in folders]
    done = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], done
    with Gallery(gallery) as g:
        assert g.people() == everyone


def test_one_gallery_is_used_from_several_threads(tmp_path):
    """A gallery opened on one thread names faces on another (a live watch's analysis
    thread): SQLite's same-thread check is off and every use holds the gallery's lock."""
    import threading

    from feelinvideo.faces import Faces

    path = tmp_path / "g.sqlite"
    rng = np.random.default_rng(1)
    ada = rng.normal(size=(1, 128)) * 0.05
    with Gallery(path, create=True) as g:
        g.add("ada", ada)
        faces = Faces(np.zeros((1, 4)), np.ones(1), embedding=ada)
        results, errors = [], []

        def use():
            try:
                for _ in range(20):
                    results.append((g.people(), g.match(None, faces, 0.6).name[0]))
                    g._known = None  # read the file again each time
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=use) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert results == [({"ada": 1}, "ada")] * 80


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


def _frame_photo(video, at_s: float, out) -> None:
    """Save the first frame of ``video`` at or after ``at_s`` seconds as a JPEG (an
    enrolment photo of the clip's person)."""
    import av

    with av.open(str(video)) as container:
        for frame in container.decode(video=0):
            if frame.time >= at_s:
                frame.to_image().save(out)
                return
    raise AssertionError(f"{video}: no frame at {at_s} s")


def _wal_copy(src, dst) -> None:
    """A copy of a gallery switched to SQLite's WAL journal, as galleries made before
    rollback journals were (a WAL file cannot be read where its -shm cannot be made)."""
    shutil.copy(src, dst)
    with contextlib.closing(sqlite3.connect(dst)) as db:
        assert db.execute("PRAGMA journal_mode = WAL").fetchone() == ("wal",)


def _one_error_line(result, *needles: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1, result.output
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_a_gallery_on_a_read_only_mount_lists_and_names_but_refuses_writes(cli, tmp_path):
    """Issue 22 item 2: a gallery on a read-only disk (a tmpfs remounted read-only: root
    passes permission checks, a read-only mount stops everyone) is read, both a gallery of
    today (rollback journal) and an older WAL one, and names the faces of a clip;
    ``enroll`` and ``gallery remove`` fail with one line saying it is read-only."""
    clip = data_file("fer/test.mp4")
    photos = tmp_path / "photos"
    photos.mkdir()
    _frame_photo(clip, 1.0, photos / "tess.jpg")
    made = tmp_path / "made.sqlite"
    assert cli("enroll", photos, "--gallery", made).exit_code == 0
    _wal_copy(made, tmp_path / "wal.sqlite")
    disk = tmp_path / "ro"
    with small_disk(disk, "2m"):
        shutil.copy(made, disk / "g.sqlite")
        shutil.copy(tmp_path / "wal.sqlite", disk / "w.sqlite")
        remount = subprocess.run(["mount", "-o", "remount,ro", str(disk)], capture_output=True)
        if remount.returncode != 0:
            pytest.skip(f"cannot remount read-only here: {remount.stderr.decode().strip()}")
        for name in ("g.sqlite", "w.sqlite"):
            gallery = disk / name
            result = cli("gallery", "list", "--gallery", gallery)
            assert result.exit_code == 0, result.output
            assert result.stdout == "name\tphotos\ntess\t1\n"
            _one_error_line(cli("enroll", photos, "--gallery", gallery), str(gallery), "read-only")
            _one_error_line(
                cli("gallery", "remove", "tess", "--gallery", gallery), str(gallery), "read-only"
            )
        # a share whose permission bits say writable (access(2) wrong): found read-only
        # when opened (WAL) or when written (rollback journal), said so in one line
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("feelinvideo.galleries.sqlite._writable", lambda path: True)
            for name in ("g.sqlite", "w.sqlite"):
                with Gallery(disk / name) as g:
                    assert g.people() == {"tess": 1}
                    with pytest.raises(GalleryError, match="the gallery is read-only"):
                        g.add("bob", np.zeros((1, 128)))
        out = tmp_path / "out"
        result = cli("analyze", clip, "--gallery", disk / "w.sqlite", "--out", out, "--no-video")
        assert result.exit_code == 0, result.output
        assert sorted(p.name for p in disk.iterdir()) == ["g.sqlite", "w.sqlite"]
    people = pd.read_csv(out / "faces.csv")["person"]
    assert (people == "tess").mean() > 0.5, people.value_counts()
    with Gallery(made) as g:  # the original, on a writable disk, is still writable
        assert not g.read_only


def test_a_gallery_in_a_folder_without_write_permission_is_read_only(tmp_path):
    """The same through permissions (chmod 555 folder, 444 file), run as a user whom they
    stop: as root (whom permissions do not stop), without root's override capabilities
    (``setpriv --bounding-set=-dac_override,-dac_read_search``)."""
    folder = tmp_path / "share"
    folder.mkdir()
    gallery = folder / "g.sqlite"
    with Gallery(gallery, create=True) as g:
        g.add("ada", np.random.default_rng(2).normal(size=(2, 128)))
    _wal_copy(gallery, folder / "w.sqlite")
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(data_file("face_recognition/obama.jpg"), photos)
    prefix = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: permissions cannot stop root")
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), PYTHONDONTWRITEBYTECODE="1")
    commands = []
    for name in ("g.sqlite", "w.sqlite"):
        where = ["--gallery", str(folder / name)]
        commands += [["gallery", "list", *where], ["enroll", str(photos), *where]]
        commands += [["gallery", "remove", "ada", *where]]
    # the commands in one process (click's runner), to start Python once
    script = (
        "import json, sys\n"
        "from click.testing import CliRunner\n"
        "from feelinvideo.cli import main\n"
        "runs = [CliRunner().invoke(main, a) for a in json.loads(sys.argv[1])]\n"
        "print(json.dumps([[r.exit_code, r.stdout, r.stderr] for r in runs]))\n"
    )
    for p in (gallery, folder / "w.sqlite"):
        p.chmod(0o444)
    folder.chmod(0o555)
    try:
        done = subprocess.run(
            [*prefix, sys.executable, "-c", script, json.dumps(commands)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        results = json.loads(done.stdout)
        for (listed, enrolled, removed), name in zip(
            [results[:3], results[3:]], ("g.sqlite", "w.sqlite"), strict=True
        ):
            assert listed[:2] == [0, "name\tphotos\nada\t2\n"], (name, listed)
            for code, _, err in (enrolled, removed):
                lines = err.strip().splitlines()
                assert code == 1 and len(lines) == 1, (name, err)
                assert "read-only" in lines[0] and name in lines[0], lines[0]
        assert sorted(p.name for p in folder.iterdir()) == ["g.sqlite", "w.sqlite"]
    finally:
        folder.chmod(0o755)
