"""A Rekognition face collection as a gallery (enroll, people, remove, match), through boto3
and the fake service on 127.0.0.1."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import data_file
from fake_rekognition import noise_frame, serve_fake

pytest.importorskip("boto3")

from feelinvideo.backends.rekognition.client import RekognitionError  # noqa: E402
from feelinvideo.errors import GalleryError  # noqa: E402
from feelinvideo.faces import EMBEDDING_SIZE, Faces  # noqa: E402
from feelinvideo.galleries.collection import RekognitionCollection  # noqa: E402
from feelinvideo.galleries.interface import Gallery, Photo
from feelinvideo.galleries.open import open_gallery  # noqa: E402

JOSE = "José Ñúñez"


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """A started fake service, with the environment pointing boto3 at it."""
    with serve_fake(monkeypatch, tmp_path) as server:
        yield server


def _photo(path: Path) -> Photo:
    from PIL import Image

    with Image.open(path) as im:
        return Photo(Path(path), np.asarray(im.convert("RGB"), dtype=np.uint8))


def _blank(tmp_path: Path) -> Photo:
    return Photo(tmp_path / "blank.png", np.full((120, 120, 3), 128, np.uint8))


def _names(fake, collection: str) -> list[str]:
    return [f.get("ExternalImageId", "") for f in fake.collections[collection]]


def _faces(xyxy, embedded) -> Faces:
    """Faces with these boxes; rows where ``embedded`` is True carry an embedding."""
    n = len(xyxy)
    embedding = np.full((n, EMBEDDING_SIZE), np.nan)
    embedding[np.asarray(embedded, bool)] = 0.1
    return Faces(np.asarray(xyxy, np.float32), np.ones(n), embedding=embedding)


def test_is_a_gallery_opened_by_open_gallery(fake):
    gallery = open_gallery(collection="class-1", create=True, face_match_threshold=80)
    assert isinstance(gallery, RekognitionCollection) and isinstance(gallery, Gallery)
    assert gallery.location == "rekognition:class-1" and gallery.region == "us-east-1"
    assert gallery.columns == ("rek_person", "rek_similarity")
    assert gallery.face_match_threshold == 80.0
    assert fake.calls == []  # opening calls nothing
    with open_gallery(collection="class-1") as default:
        assert default.face_match_threshold == 70.0
    with pytest.raises(GalleryError, match="collection id 'a b'"):
        RekognitionCollection("a b")
    with pytest.raises(ValueError, match="0-100"):
        RekognitionCollection("c", face_match_threshold=120)


def test_enroll_creates_the_collection_and_indexes_each_photo(fake, tmp_path):
    gallery = RekognitionCollection("class-1", create=True)
    justin = _photo(data_file("fer/justin.jpg"))
    enrolled = gallery.enroll(JOSE, [justin, _blank(tmp_path)])
    assert gallery.created and fake.operations()[0] == "CreateCollection"
    assert enrolled.used == 1 and enrolled.total == 1
    assert enrolled.warnings == [f"skipped {tmp_path / 'blank.png'}: no face found"]
    obama = _photo(data_file("face_recognition/obama.jpg"))
    assert gallery.enroll("obama", [obama]).total == 1
    index_calls = [p for op, p, _ in fake.calls if op == "IndexFaces"]
    assert [p["ExternalImageId"] for p in index_calls] == [
        "Jos:C3:A9:20:C3:91:C3:BA:C3:B1ez"
    ] * 2 + ["obama"]
    assert all(p["MaxFaces"] == 1 and p["QualityFilter"] == "AUTO" for p in index_calls)
    assert all(p["CollectionId"] == "class-1" for p in index_calls)
    assert "ListFaces" not in fake.operations()  # a new collection: nothing to list

    again = RekognitionCollection("class-1", create=True)  # CreateCollection: already exists
    assert again.enroll("obama", [obama]).total == 2 and not again.created
    fake.list_page_size = 2
    before = fake.operations().count("ListFaces")
    assert again.people() == {JOSE: 1, "obama": 2}
    assert fake.operations().count("ListFaces") - before == 2  # two pages


def test_enroll_warns_about_group_photos_and_unreadable_images(fake, tmp_path):
    fake.index_extra_faces = 2
    gallery = RekognitionCollection("c", create=True)
    photo = _photo(data_file("face_recognition/two_people.jpg"))
    bad = Photo(tmp_path / "bad.png", np.zeros((4, 4), np.uint8))
    enrolled = gallery.enroll("pair", [photo, bad])
    assert enrolled.used == 1
    assert enrolled.warnings == [
        f"skipped {bad.path}: expected an RGB image (H, W, 3), got an array of shape (4, 4)",
        f"{photo.path}: 3 faces found, used the largest",
    ]


def test_enroll_without_create_needs_the_collection(fake):
    photo = _photo(data_file("face_recognition/obama.jpg"))
    with pytest.raises(RekognitionError, match="collection 'nobody' not found in region"):
        RekognitionCollection("nobody").enroll("obama", [photo])
    assert "CreateCollection" not in fake.operations()
    with pytest.raises(GalleryError, match="name is empty"):
        RekognitionCollection("nobody").enroll("", [photo])


def test_enroll_replace_swaps_the_persons_faces(fake, tmp_path):
    gallery = RekognitionCollection("c", create=True)
    obama = _photo(data_file("face_recognition/obama.jpg"))
    biden = _photo(data_file("face_recognition/biden.jpg"))
    gallery.enroll("obama", [obama, obama])
    gallery.enroll("biden", [biden])
    old_ids = {f["FaceId"] for f in fake.collections["c"] if f["ExternalImageId"] == "obama"}

    # no usable photo: nothing changes, the old faces stay
    kept = RekognitionCollection("c").enroll("obama", [_blank(tmp_path)], replace=True)
    assert (kept.used, kept.total) == (0, 2) and "DeleteFaces" not in fake.operations()

    replaced = RekognitionCollection("c").enroll("obama", [obama], replace=True)
    assert (replaced.used, replaced.total) == (1, 1)
    now = {f["FaceId"] for f in fake.collections["c"] if f["ExternalImageId"] == "obama"}
    assert len(now) == 1 and not now & old_ids
    assert sorted(_names(fake, "c")) == ["biden", "obama"]


def test_remove_deletes_the_persons_faces(fake):
    gallery = RekognitionCollection("class", create=True)
    obama = _photo(data_file("face_recognition/obama.jpg"))
    gallery.enroll("obama", [obama, obama])
    gallery.enroll(JOSE, [obama])
    assert gallery.remove("obama") == 2
    deletes = [p for op, p, _ in fake.calls if op == "DeleteFaces"]
    assert len(deletes) == 1 and len(deletes[0]["FaceIds"]) == 2
    assert _names(fake, "class") == ["Jos:C3:A9:20:C3:91:C3:BA:C3:B1ez"]
    assert RekognitionCollection("class").people() == {JOSE: 1}

    with pytest.raises(GalleryError) as info:
        gallery.remove("obama")
    assert str(info.value) == (f"rekognition:class: 'obama' is not enrolled (enrolled: {JOSE})")
    assert gallery.remove(JOSE) == 1
    with pytest.raises(GalleryError, match=r"'x' is not enrolled \(enrolled: nobody\)"):
        gallery.remove("x")
    with pytest.raises(RekognitionError, match="collection 'nobody' not found"):
        RekognitionCollection("nobody").remove("x")


def test_remove_deletes_4096_faces_a_request(fake):
    fake.list_page_size = 4096
    fake.collections["crowd"] = [
        {"FaceId": f"face-{i}", "ExternalImageId": "many" if i % 10 else "other"}
        for i in range(5000)
    ]
    assert RekognitionCollection("crowd").remove("many") == 4500
    sizes = [len(p["FaceIds"]) for op, p, _ in fake.calls if op == "DeleteFaces"]
    assert sizes == [4096, 404]
    assert set(_names(fake, "crowd")) == {"other"} and len(fake.collections["crowd"]) == 500


def test_remove_reports_faces_the_service_keeps(fake):
    fake.collections["c"] = [
        {"FaceId": "a", "ExternalImageId": "obama"},
        {"FaceId": "b", "ExternalImageId": "obama"},
    ]
    fake.associated = {"b"}
    with pytest.raises(GalleryError) as info:
        RekognitionCollection("c").remove("obama")
    assert "1 ASSOCIATED_TO_AN_EXISTING_USER" in str(info.value)
    assert "1 of 2 deleted" in str(info.value)


def test_match_searches_the_embedded_faces(fake):
    gallery = RekognitionCollection("class", create=True)
    gallery.enroll(JOSE, [_photo(data_file("fer/justin.jpg"))])
    image = noise_frame(400, 300)
    faces = _faces([[10, 10, 50, 60], [100, 100, 200, 220], [300, 50, 390, 150]], [1, 0, 1])
    matches = gallery.match(image, faces, tolerance=0.6)
    assert matches.checked.tolist() == [True, False, True]
    assert matches.name.tolist() == [JOSE, "", JOSE]
    assert np.isnan(matches.distance).all() and matches.distance.dtype == np.float32
    assert list(matches.data) == ["rek_person", "rek_similarity"]
    assert matches.data["rek_person"].tolist() == [JOSE, "", JOSE]
    assert matches.data["rek_person"].dtype == object
    similarity = matches.data["rek_similarity"]
    assert similarity.dtype == np.float32
    np.testing.assert_allclose(similarity[[0, 2]], [99.1, 99.1], rtol=1e-5)
    assert math.isnan(similarity[1])
    searches = [(p, size) for op, p, size in fake.calls if op == "SearchFacesByImage"]
    assert len(searches) == 2
    assert all(p["FaceMatchThreshold"] == 70.0 and p["MaxFaces"] == 1 for p, _ in searches)
    assert all(p["CollectionId"] == "class" for p, _ in searches)
    assert all(min(size) >= 80 for _, size in searches)  # Rekognition's minimum side


def test_match_without_a_match_or_a_face(fake):
    fake.collections["class"] = [{"FaceId": "f", "ExternalImageId": "obama"}]
    image = noise_frame()
    faces = _faces([[10, 10, 80, 90], [100, 100, 200, 220]], [1, 1])
    strict = RekognitionCollection("class", face_match_threshold=99.5).match(image, faces, 0.6)
    assert strict.checked.all() and strict.name.tolist() == ["", ""]
    assert np.isnan(strict.data["rek_similarity"]).all()

    fake.fail("SearchFacesByImage", "InvalidParameterException", "There are no faces in the image")
    gallery = RekognitionCollection("class", workers=1)
    assert sorted(gallery.match(image, faces, 0.6).name.tolist()) == ["", "obama"]

    fake.collections["empty"] = []
    empty = RekognitionCollection("empty").match(image, faces, 0.6)
    assert empty.data["rek_person"].tolist() == ["", ""]


def test_match_checks_nothing_without_embeddings(fake):
    gallery = RekognitionCollection("class")
    faces = Faces(np.array([[10, 10, 80, 90]], np.float32), np.ones(1))
    matches = gallery.match(noise_frame(), faces, 0.6)
    assert matches.checked.tolist() == [False] and matches.name.tolist() == [""]
    assert np.isnan(matches.data["rek_similarity"]).all()
    empty = gallery.match(noise_frame(), Faces.empty(), 0.6)
    assert len(empty.checked) == 0 and set(empty.data) == set(gallery.columns)
    assert fake.calls == []


def test_match_on_an_unknown_collection_is_one_line(fake):
    faces = _faces([[10, 10, 80, 90]], [1])
    with pytest.raises(RekognitionError, match="collection 'nobody' not found in region"):
        RekognitionCollection("nobody").match(noise_frame(), faces, 0.6)
