"""The Python side of the driver's entry points, without C: pyv4l2req_va.driver and the
callbacks' slot table."""

from __future__ import annotations

import pytest

pytest.importorskip("pyv4l2req_va", reason="the adapter is not installed (pip install ./va)")

from pyv4l2req_va import callbacks  # noqa: E402
from pyv4l2req_va import vaconst as va  # noqa: E402
from pyv4l2req_va.driver import VENDOR, Driver, VAError, parse_device  # noqa: E402
from pyv4l2req_va.header import HeaderError, vtable_slots  # noqa: E402

H264 = [va.VAProfileH264ConstrainedBaseline, va.VAProfileH264Main, va.VAProfileH264High]


def test_profiles_and_entrypoints() -> None:
    d = Driver()
    assert d.query_config_profiles() == H264
    for p in H264:
        assert d.query_config_entrypoints(p) == [va.VAEntrypointVLD]
    with pytest.raises(VAError) as exc:
        d.query_config_entrypoints(0)  # VAProfileMPEG2Simple
    assert exc.value.status == va.VA_STATUS_ERROR_UNSUPPORTED_PROFILE


def test_limits_cover_the_answers_and_are_non_zero() -> None:
    d = Driver()
    limits = vars(d.limits)
    assert all(v > 0 for v in limits.values()), limits
    assert len(d.query_config_profiles()) <= d.limits.max_profiles
    assert len(d.query_image_formats()) <= d.limits.max_image_formats
    cid = d.create_config(va.VAProfileH264High, va.VAEntrypointVLD, [])
    assert len(d.query_config_attributes(cid)[1]) <= d.limits.max_attributes


def test_vendor_string_is_not_one_mpv_skips() -> None:
    assert "VDPAU backend" not in VENDOR and "NVDEC driver" not in VENDOR and "pyv4l2req" in VENDOR


def test_config_attributes() -> None:
    d = Driver()
    values = d.get_config_attributes(va.VAProfileH264Main, va.VAEntrypointVLD, [va.VAConfigAttribRTFormat, 12345])
    assert values == [va.VA_RT_FORMAT_YUV420, va.VA_ATTRIB_NOT_SUPPORTED]
    with pytest.raises(VAError) as exc:
        d.get_config_attributes(va.VAProfileH264Main, 6, [va.VAConfigAttribRTFormat])  # VAEntrypointEncSlice
    assert exc.value.status == va.VA_STATUS_ERROR_UNSUPPORTED_ENTRYPOINT


def test_create_query_destroy_config() -> None:
    d = Driver()
    a = d.create_config(va.VAProfileH264Main, va.VAEntrypointVLD, [])
    b = d.create_config(va.VAProfileH264High, va.VAEntrypointVLD,
                        [(va.VAConfigAttribRTFormat, va.VA_RT_FORMAT_YUV420)])
    assert a != b and 0 not in (a, b)
    config, attribs = d.query_config_attributes(b)
    assert (config.profile, config.entrypoint) == (va.VAProfileH264High, va.VAEntrypointVLD)
    assert attribs == [(va.VAConfigAttribRTFormat, va.VA_RT_FORMAT_YUV420)]
    d.destroy_config(a)
    for call in (lambda: d.destroy_config(a), lambda: d.query_config_attributes(a),
                 lambda: d.query_surface_attributes(a)):
        with pytest.raises(VAError) as exc:
            call()
        assert exc.value.status == va.VA_STATUS_ERROR_INVALID_CONFIG
    d.terminate()
    assert d.configs == {}


@pytest.mark.parametrize("attribs,status", [
    ([(va.VAConfigAttribRTFormat, 0x4)], va.VA_STATUS_ERROR_UNSUPPORTED_RT_FORMAT),   # YUV444
    ([(va.VAConfigAttribRTFormat, 0)], va.VA_STATUS_ERROR_UNSUPPORTED_RT_FORMAT),
    ([(va.VAConfigAttribRTFormat, 0x100)], va.VA_STATUS_ERROR_UNSUPPORTED_RT_FORMAT),  # YUV420_10
])
def test_create_config_checks_rt_format(attribs, status) -> None:
    d = Driver()
    with pytest.raises(VAError) as exc:
        d.create_config(va.VAProfileH264Main, va.VAEntrypointVLD, attribs)
    assert exc.value.status == status
    assert d.configs == {}


def test_create_config_checks_profile_and_entrypoint() -> None:
    d = Driver()
    with pytest.raises(VAError) as exc:
        d.create_config(va.VAProfileH264Main + 100, va.VAEntrypointVLD, [])
    assert exc.value.status == va.VA_STATUS_ERROR_UNSUPPORTED_PROFILE
    with pytest.raises(VAError) as exc:
        d.create_config(va.VAProfileH264Main, 6, [])
    assert exc.value.status == va.VA_STATUS_ERROR_UNSUPPORTED_ENTRYPOINT


def test_surface_attributes_and_image_formats() -> None:
    d = Driver()
    cid = d.create_config(va.VAProfileH264ConstrainedBaseline, va.VAEntrypointVLD, [])
    attribs = {a.type: a for a in d.query_surface_attributes(cid)}
    assert attribs[va.VASurfaceAttribPixelFormat].value == va.VA_FOURCC_NV12
    assert attribs[va.VASurfaceAttribMinWidth].value <= 16 <= attribs[va.VASurfaceAttribMaxWidth].value
    assert attribs[va.VASurfaceAttribMaxWidth].value >= 1920
    assert attribs[va.VASurfaceAttribMaxHeight].value >= 1088
    assert attribs[va.VASurfaceAttribMemoryType].value & va.VA_SURFACE_ATTRIB_MEM_TYPE_VA
    assert all(a.flags & va.VA_SURFACE_ATTRIB_GETTABLE for a in attribs.values())
    [nv12] = d.query_image_formats()
    assert (nv12.fourcc, nv12.bits_per_pixel) == (va.VA_FOURCC_NV12, 12)


def test_device_selection_env() -> None:
    assert Driver.from_environ({}).device == "auto"
    assert Driver.from_environ({"PYV4L2REQ_VA_DEVICE": "emulated"}).device == "emulated"
    assert Driver.from_environ({"PYV4L2REQ_VA_DEVICE": "/dev/video3"}).device == "/dev/video3"
    with pytest.raises(ValueError, match="PYV4L2REQ_VA_DEVICE"):
        parse_device("video3")


def test_unimplemented_slots_return_unimplemented() -> None:
    assert va.VA_STATUS_ERROR_UNIMPLEMENTED not in (0, va.VA_STATUS_ERROR_OPERATION_FAILED)
    for slot in ("vaBeginPicture", "vaCreateSurfaces", "vaBufferInfo", "vaExportSurfaceHandle"):
        assert slot not in callbacks.IMPLEMENTED
        assert callbacks.callback_for(slot)(object(), 1, 2) == va.VA_STATUS_ERROR_UNIMPLEMENTED


def test_implemented_slots_turn_va_errors_into_their_status() -> None:
    guarded = callbacks._guarded("vaX", lambda ctx: (_ for _ in ()).throw(VAError(va.VA_STATUS_ERROR_INVALID_CONFIG, "x")))
    assert guarded(None) == va.VA_STATUS_ERROR_INVALID_CONFIG
    assert callbacks._guarded("vaY", lambda ctx: None)(None) == va.VA_STATUS_SUCCESS


def test_vtable_parser() -> None:
    text = """
    struct VADriverVTable {
        VAStatus(*vaTerminate)(VADriverContextP ctx);   /* comment */
        VAStatus
        (*vaQueryConfigProfiles)(
            VADriverContextP ctx,
            VAProfile *profile_list,    /* out */
            int *num_profiles           // out
        );
        unsigned long reserved[54];
    };
    """
    slots = vtable_slots(text)
    assert [(s.name, s.params) for s in slots] == [
        ("vaTerminate", "VADriverContextP ctx"),
        ("vaQueryConfigProfiles", "VADriverContextP ctx, VAProfile *profile_list, int *num_profiles"),
    ]
    with pytest.raises(HeaderError, match="unexpected"):
        vtable_slots("struct VADriverVTable {\n int (*odd)(void);\n};")
