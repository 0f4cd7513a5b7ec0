#ifndef MICRODOT_REDIS_REPLY_H
#define MICRODOT_REDIS_REPLY_H

/* microdot.redis's C side: hiredis's RESP reader behind an opaque handle,
   and its replies pushed onto a Lua stack. */

#include <lua.h>
#include <stddef.h>

typedef struct mdl_redis_reader mdl_redis_reader;

/* NULL when out of memory. */
mdl_redis_reader *mdl_redis_reader_new(void);
void mdl_redis_reader_free(mdl_redis_reader *reader);

/* Appends bytes read from the socket; 0, or -1 on a protocol error. */
int mdl_redis_reader_feed(mdl_redis_reader *reader, const char *bytes, size_t length);

/* The next complete reply (NULL when more bytes are needed) in *reply; 0,
   or -1 on a protocol error (the connection must be dropped). */
int mdl_redis_reader_next(mdl_redis_reader *reader, void **reply);

/* The reader's error message after a -1. */
const char *mdl_redis_reader_error(mdl_redis_reader *reader);

void mdl_redis_reply_free(void *reply);

/* Whether the reply is an error reply. */
int mdl_redis_reply_is_error(const void *reply);

/* Whether the reply is an array of 3 whose first element is the string
   `kind` ("message", "subscribe"): pub/sub pushes. */
int mdl_redis_reply_is_push(const void *reply, const char *kind);

/* Element `i` of an array reply, or NULL. */
const void *mdl_redis_reply_element(const void *reply, size_t i);

/* A string, status or error reply's bytes (NULL for other types). */
const char *mdl_redis_reply_bytes(const void *reply, size_t *length);

/* Pushes `reply`: a status or bulk string as a string, an integer as an
   integer, an array as a table with the metatable at `array_mt` (the JSON
   array marker), an error as {message =, server = } with the metatable at
   `error_mt`. A null is nil at the top and the value at `null_index`
   (microdot.json.null) inside an array. Indices must be absolute. Raises
   only when memory runs out. */
void mdl_redis_push_reply(lua_State *L, const void *reply, int null_index, int array_mt, int error_mt,
                          const char *server, size_t server_length);

/* Writes `value` as Lua's tostring does (LUA_NUMBER_FMT, ".0" added to an
   integral value) into `buffer`; returns the length. */
int mdl_redis_format_float(double value, char *buffer, size_t size);

#endif
