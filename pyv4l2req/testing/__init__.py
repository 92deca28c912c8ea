"""Test helpers that run against the real kernel (not part of the decoding API).

- :mod:`pyv4l2req.testing.vm` -- boot the test kernel (virtme-ng, QEMU TCG) and run a command or a
  pytest selection inside (``python -m pyv4l2req.testing.vm``, ``tools/vmtest``); used by the
  ``@pytest.mark.vm`` plugin in ``tests/conftest.py``.
- :mod:`pyv4l2req.testing.visl_trace` -- capture visl's H.264 control trace inside the VM and
  parse it into per-request dicts (``gst_reference_controls``: GStreamer's controls for a stream).

Submodules are imported explicitly; importing this package imports nothing else.
"""
