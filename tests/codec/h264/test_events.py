"""Event classes and output order keys: PictureOutput / PictureRelease are slots classes (not frozen, for speed) that
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


def test_output_order_key_matches_frame_store_poc() -> None:
    """output._output_order inlines FrameStore.poc: same value for every decoded state."""
    from pyv4l2req.codec.h264.dpb import FrameStore
    from pyv4l2req.codec.h264.output import _output_order

    for decoded in (1, 2, 3):
        for top, bottom in ((4, 5), (5, 4), (6, 6), (-2, 7)):
            fs = FrameStore(1000, 0, decoded=decoded, top_field_order_cnt=top,
                            bottom_field_order_cnt=bottom, decode_index=9)
            assert _output_order(fs) == (fs.poc, 9)


def test_positional_construction_field_order() -> None:
    """The decoder builds PictureDecode, FrameStore and PocResult with positional arguments
    (cheaper than keywords on every picture): their field order is part of that contract."""
    import dataclasses

    from pyv4l2req.codec.h264.decoder import PictureDecode
    from pyv4l2req.codec.h264.dpb import FrameStore
    from pyv4l2req.codec.h264.poc import PocResult

    names = lambda cls: [f.name for f in dataclasses.fields(cls)]  # noqa: E731
    assert names(PictureDecode) == [
        "timestamp_ns", "sps", "pps", "slices", "dpb", "reference_timestamps", "is_first_field",
        "is_second_field", "poc", "frame_num", "nal_ref_idc", "is_idr", "structure",
        "top_field_order_cnt", "bottom_field_order_cnt", "damaged"]
    assert names(FrameStore)[:2] == ["timestamp_ns", "frame_num"]
    assert names(PocResult) == ["top_field_order_cnt", "bottom_field_order_cnt", "pic_order_cnt_msb",
                                "frame_num_offset"]
