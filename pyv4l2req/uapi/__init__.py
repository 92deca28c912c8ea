"""Layer 1: the kernel ABI of V4L2 stateless decoding, named exactly like the C headers.

- ``videodev2``, ``media``: constants, ctypes ioctl structs and ioctl numbers (videodev2.h, media.h)
- ``ioc``: the ``_IO*`` request-number encoding, fourcc helpers
- ``controls``: control ids and menus of the stateless codec class (v4l2-controls.h)
- ``h264``, ``fwht``: construct control structs and flags, ``pack``/``unpack`` (fast path)
- ``packing``: the compiled ``struct`` fast paths behind ``pack``/``pack_into``/``unpack``
- ``validate``: the kernel's control validation (``std_validate_compound``) in Python
- ``layout``: member offsets and sizes of every struct, ``python -m pyv4l2req.uapi --layout``

Nothing is imported here: import the submodule you need (``from pyv4l2req.uapi import h264``).
"""
