"""``feelinvideo watch`` naming the people of a gallery (issue 22 item 1): a real clip played
at its own pace (--realtime), the real models, and a gallery holding the clip's person,
enrolled from one of the clip's own frames. The gallery is opened on the calling thread
and used on the watch's analysis thread; before, every watch with a gallery failed there
("SQLite objects created in a thread can only be used in that same thread")."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import data_file

from feelinvideo.galleries.sqlite import SqliteGallery
from feelinvideo.settings import AnalyzeOptions
from feelinvideo.watch import Watch, WatchSettings

#: woman2.mp4 shows one woman for 15.5 s; 6 s of it at 2 frames a second is plenty.
WATCH = ("--realtime", "--duration", "6", "--window", "3", "--every", "0.5", "--quiet")


@pytest.fixture()
def clip():
    return data_file("fer/woman2.mp4")


@pytest.fixture()
def photos(tmp_path, clip):
    """``photos/amelia.jpg``: the clip's frame at 2 s (one face)."""
    import av

    folder = tmp_path / "photos"
    folder.mkdir()
    with av.open(str(clip)) as container:
        frame = next(f for f in container.decode(video=0) if f.time >= 2.0)
        frame.to_image().save(folder / "amelia.jpg")
    return folder


def _named(out, windows: list[dict]) -> None:
    """The watch named its one person amelia in every window with a face (on a loaded
    machine a window may have none analysed) and in faces.csv."""
    seen = [w["people_present"] for w in windows if w["faces"]]
    assert seen and all(names == ["amelia"] for names in seen), windows
    people = pd.read_csv(out / "faces.csv")["person"]
    assert len(people) and (people == "amelia").all(), people.value_counts()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["watch"]["ended"] == "duration reached"
    assert [p["person"] for p in summary["people"]] == ["amelia"]


def test_watch_names_the_person_from_a_gallery_file(cli, tmp_path, clip, photos):
    gallery = tmp_path / "class.sqlite"
    assert cli("enroll", photos, "--gallery", gallery).exit_code == 0
    out = tmp_path / "watch_out"
    result = cli("watch", clip, *WATCH, "--gallery", gallery, "--out", out)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()  # text lines: "... faces 6  people 1 (amelia) ..."
    with_faces = [line for line in lines if "faces 0 " not in line]
    assert with_faces and all("people 1 (amelia)" in line for line in with_faces), lines
    _named(out, json.loads((out / "summary.json").read_text())["windows"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["identity"]["gallery"] == str(gallery.resolve())


def test_watch_uses_the_default_gallery_enroll_made(cli, tmp_path, clip, photos, monkeypatch):
    """``feelinvideo enroll DIR`` then a plain ``feelinvideo watch``: the default gallery
    (the XDG data folder, here a temporary one)."""
    monkeypatch.delenv("FEELINVIDEO_GALLERY", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    result = cli("enroll", photos)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "data" / "feelinvideo" / "gallery.sqlite").exists()
    out = tmp_path / "watch_out"
    result = cli("watch", clip, *WATCH, "--format", "jsonl", "--out", out)
    assert result.exit_code == 0, result.output
    windows = [json.loads(line) for line in result.stdout.splitlines()]
    _named(out, windows)


def test_python_watch_with_an_open_gallery(tmp_path, clip, photos, cli):
    gallery = tmp_path / "class.sqlite"
    assert cli("enroll", photos, "--gallery", gallery).exit_code == 0
    windows = []
    with SqliteGallery(gallery) as names:
        summary = Watch(
            str(clip),
            tmp_path / "out",
            gallery=names,
            options=AnalyzeOptions(every_s=0.5, thumbnails=False, write_video=False),
            settings=WatchSettings(window_s=3.0, duration_s=6.0),
            on_window=windows.append,
        ).run()
    assert summary["identity"]["gallery"] == names.location
    _named(tmp_path / "out", windows)
