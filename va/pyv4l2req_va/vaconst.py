"""The libva constants the driver uses, named like the C macros and enumerators of ``va/va.h``.

Plain numbers so that the driver logic imports without libva; the built driver checks every one
against the compiled header at init (``callbacks.check_constants``), and the tests do too.
"""

# VAStatus
VA_STATUS_SUCCESS = 0x00000000
VA_STATUS_ERROR_OPERATION_FAILED = 0x00000001
VA_STATUS_ERROR_INVALID_CONFIG = 0x00000004
VA_STATUS_ERROR_ATTR_NOT_SUPPORTED = 0x0000000A
VA_STATUS_ERROR_MAX_NUM_EXCEEDED = 0x0000000B
VA_STATUS_ERROR_UNSUPPORTED_PROFILE = 0x0000000C
VA_STATUS_ERROR_UNSUPPORTED_ENTRYPOINT = 0x0000000D
VA_STATUS_ERROR_UNSUPPORTED_RT_FORMAT = 0x0000000E
VA_STATUS_ERROR_INVALID_PARAMETER = 0x00000012
VA_STATUS_ERROR_UNIMPLEMENTED = 0x00000014
VA_STATUS_ERROR_INVALID_VALUE = 0x00000019

# VAProfile / VAEntrypoint
VAProfileH264Main = 6
VAProfileH264High = 7
VAProfileH264ConstrainedBaseline = 13
VAEntrypointVLD = 1

# VAConfigAttribType and values
VAConfigAttribRTFormat = 0
VA_RT_FORMAT_YUV420 = 0x00000001
VA_ATTRIB_NOT_SUPPORTED = 0x80000000

# surface attributes
VAGenericValueTypeInteger = 1
VASurfaceAttribPixelFormat = 1
VASurfaceAttribMinWidth = 2
VASurfaceAttribMaxWidth = 3
VASurfaceAttribMinHeight = 4
VASurfaceAttribMaxHeight = 5
VASurfaceAttribMemoryType = 6
VA_SURFACE_ATTRIB_GETTABLE = 0x00000001
VA_SURFACE_ATTRIB_SETTABLE = 0x00000002
VA_SURFACE_ATTRIB_MEM_TYPE_VA = 0x00000001

# images
VA_FOURCC_NV12 = 0x3231564E
VA_LSB_FIRST = 1

NAMES = [name for name in dir() if name.startswith(("VA_", "VAProfile", "VAEntrypoint", "VAConfigAttrib",
                                                     "VAGenericValueType", "VASurfaceAttrib"))]
"""Every constant above (what the init-time and test-time header checks compare)."""
