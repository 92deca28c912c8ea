"""pyv4l2req-va: a VA-API driver whose logic is Python, on top of pyv4l2req.

``pyv4l2req-va install`` compiles ``pyv4l2req_drv_video.so`` (cffi embedding mode) against the
installed libva headers; libva loads it like any driver and every entry point lands in
:mod:`pyv4l2req_va.callbacks`, which converts C arguments and calls :class:`pyv4l2req_va.driver.Driver`.
The core package ``pyv4l2req`` never imports this one.
"""

__version__ = "0.1.0.dev0"
