// Stand-in for <linux/blkdev.h>, which bookworm's kernel headers lack but liburing 2.9's
// compat.h includes. Only this one constant is needed from it; meson adds this directory to
// the include path only when the real header is missing.
#pragma once
#include <linux/ioctl.h>
#ifndef BLOCK_URING_CMD_DISCARD
#define BLOCK_URING_CMD_DISCARD _IO(0x12, 0)
#endif
