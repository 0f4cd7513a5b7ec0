#ifndef MICRODOT_HIREDIS_SHIM_H
#define MICRODOT_HIREDIS_SHIM_H

/* Debian's libhiredis-dev: only its RESP reader (read.h) and reply objects
   are used; the socket is SwiftNIO's. */
#include <hiredis/hiredis.h>

#endif
