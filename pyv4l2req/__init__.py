"""pyv4l2req: userspace for Linux V4L2 stateless video decoders, in Python."""

__version__ = "0.1.0.dev0"
