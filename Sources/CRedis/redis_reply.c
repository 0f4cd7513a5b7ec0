#include "redis_reply.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <luaconf.h>
#include <string.h>

struct mdl_redis_reader {
    redisReader *reader;
};

mdl_redis_reader *mdl_redis_reader_new(void) {
    mdl_redis_reader *wrapper = malloc(sizeof *wrapper);
    if (wrapper == NULL) return NULL;
    wrapper->reader = redisReaderCreate();
    if (wrapper->reader == NULL) {
        free(wrapper);
        return NULL;
    }
    return wrapper;
}

void mdl_redis_reader_free(mdl_redis_reader *reader) {
    if (reader == NULL) return;
    redisReaderFree(reader->reader);
    free(reader);
}

int mdl_redis_reader_feed(mdl_redis_reader *reader, const char *bytes, size_t length) {
    return redisReaderFeed(reader->reader, bytes, length) == REDIS_OK ? 0 : -1;
}

int mdl_redis_reader_next(mdl_redis_reader *reader, void **reply) {
    *reply = NULL;
    return redisReaderGetReply(reader->reader, reply) == REDIS_OK ? 0 : -1;
}

const char *mdl_redis_reader_error(mdl_redis_reader *reader) {
    return reader->reader->errstr[0] ? reader->reader->errstr : "protocol error";
}

void mdl_redis_reply_free(void *reply) {
    if (reply != NULL) freeReplyObject(reply);
}

int mdl_redis_reply_is_error(const void *reply) {
    return ((const redisReply *)reply)->type == REDIS_REPLY_ERROR;
}

int mdl_redis_reply_is_push(const void *reply, const char *kind) {
    const redisReply *r = reply;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) return 0;
    const redisReply *first = r->element[0];
    size_t length = strlen(kind);
    return first->type == REDIS_REPLY_STRING && first->len == length && memcmp(first->str, kind, length) == 0;
}

const void *mdl_redis_reply_element(const void *reply, size_t i) {
    const redisReply *r = reply;
    if (r->type != REDIS_REPLY_ARRAY || i >= r->elements) return NULL;
    return r->element[i];
}

const char *mdl_redis_reply_bytes(const void *reply, size_t *length) {
    const redisReply *r = reply;
    switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        *length = r->len;
        return r->str;
    default:
        *length = 0;
        return NULL;
    }
}

static void push(lua_State *L, const redisReply *r, int nested, int null_index, int array_mt, int error_mt,
                 const char *server, size_t server_length) {
    switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        lua_pushlstring(L, r->str, r->len);
        break;
    case REDIS_REPLY_INTEGER:
        lua_pushinteger(L, (lua_Integer)r->integer);
        break;
    case REDIS_REPLY_ARRAY:
        lua_createtable(L, r->elements > 0x7fffffff ? 0x7fffffff : (int)r->elements, 0);
        for (size_t i = 0; i < r->elements; i++) {
            push(L, r->element[i], 1, null_index, array_mt, error_mt, server, server_length);
            lua_rawseti(L, -2, (lua_Integer)(i + 1));
        }
        lua_pushvalue(L, array_mt);
        lua_setmetatable(L, -2);
        break;
    case REDIS_REPLY_ERROR:
        lua_createtable(L, 0, 2);
        lua_pushlstring(L, r->str, r->len);
        lua_setfield(L, -2, "message");
        lua_pushlstring(L, server, server_length);
        lua_setfield(L, -2, "server");
        lua_pushvalue(L, error_mt);
        lua_setmetatable(L, -2);
        break;
    default: /* REDIS_REPLY_NIL */
        if (nested) lua_pushvalue(L, null_index);
        else lua_pushnil(L);
        break;
    }
}

void mdl_redis_push_reply(lua_State *L, const void *reply, int null_index, int array_mt, int error_mt,
                          const char *server, size_t server_length) {
    /* hiredis nests arrays at most 7 deep: two slots a level. Never
       raises (no Lua error may cross the Swift frame that calls this). */
    lua_checkstack(L, 32);
    push(L, reply, 0, null_index, array_mt, error_mt, server, server_length);
}

int mdl_redis_format_float(double value, char *buffer, size_t size) {
    int length = snprintf(buffer, size, LUA_NUMBER_FMT, (LUAI_UACNUMBER)value);
    if (length < 0 || (size_t)length >= size) return 0;
    /* As lobject.c's tostringbuff: a float that looks like an int gets ".0". */
    if (buffer[strspn(buffer, "-0123456789")] == '\0' && (size_t)length + 2 < size) {
        buffer[length++] = '.';
        buffer[length++] = '0';
        buffer[length] = '\0';
    }
    return length;
}
