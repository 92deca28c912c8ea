"""Event classes: PictureOutput / PictureRelease are slots classes (not frozen, for speed) that
keep SequenceStart's value semantics: equal and hashable by value."""

from pyv4l2req.codec.h264.decoder import Crop, PictureOutput, PictureRelease


def test_picture_output_and_release_compare_and_hash_by_value() -> None:
    crop = Crop(0, 0, 1920, 1080)
    a = PictureOutput(1000, crop, 4, 4, 5, 3)
    b = PictureOutput(1000, crop, 4, 4, 5, 3)
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != PictureOutput(1000, crop, 6, 4, 5, 3)
    assert PictureRelease(2000) == PictureRelease(2000)
    assert len({PictureRelease(2000), PictureRelease(2000), PictureRelease(3000)}) == 2
    assert not hasattr(a, "__dict__")  # slots: cheap to create
