"""The emulated stateless V4L2 decoder (a fake kernel behind the ``Backend`` protocol).

``EmulatedBackend(*, profile="visl", faults=None, pixels=True)`` offers ``/dev/media0`` + ``/dev/video0``
(stateless H.264, "emulated-h264") and ``/dev/media1`` + ``/dev/video1`` (stateless FWHT,
"emulated-fwht"); see ``device.py``. Codec models plug in through ``codec_model.CodecModel``.
"""

from .codec_model import CaptureView, CodecModel, ControlSpec, DecodeJob
from .device import EmulatedBackend
from .faults import FaultPlan, Stats

__all__ = ["EmulatedBackend", "FaultPlan", "Stats", "CodecModel", "ControlSpec", "DecodeJob", "CaptureView"]
