#include "lua_runtime.h"

#include <lauxlib.h>

#include <stdio.h>
#include <stdlib.h>

/* The allocator refuses growth past the limit only where Lua can raise the
   memory error safely: inside a protected call, outside any Swift frame. */
static void *mdl_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    mdl_context *ctx = (mdl_context *)ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        ctx->used -= old;
        return NULL;
    }
    size_t after = ctx->used - old + nsize;
    if (ctx->limit && nsize > old && ctx->protected_depth > 0 && ctx->in_swift == 0) {
        /* Once a memory error is on its way, the code that handles it (a
           traceback, the 500 response) gets some headroom past the limit. */
        size_t cap = ctx->limit + (ctx->over_limit ? ctx->limit / 16 + (1u << 20) : 0);
        if (after > cap) {
            if (ptr == ctx->refused && nsize == ctx->refused_size) ctx->over_limit = 1; /* the retry failed too */
            ctx->refused = ptr;
            ctx->refused_size = nsize;
            return NULL;
        }
    }
    void *block = realloc(ptr, nsize);
    if (block != NULL) {
        ctx->used = after;
        if (ctx->used < ctx->limit) ctx->over_limit = 0;
    }
    return block;
}

static int mdl_panic(lua_State *L) {
    const char *message = lua_tostring(L, -1);
    fprintf(stderr, "microdot-lua: unprotected Lua error: %s\n", message ? message : "(not a string)");
    return 0; /* Lua aborts */
}

lua_State *mdl_newstate(mdl_context *ctx) {
    lua_State *L = lua_newstate(mdl_alloc, ctx);
    if (L == NULL) return NULL;
    *(mdl_context **)lua_getextraspace(L) = ctx;
    lua_atpanic(L, mdl_panic);
    return L;
}

static int mdl_trampoline(lua_State *L) {
    mdl_SwiftFunction function = (mdl_SwiftFunction)lua_touserdata(L, lua_upvalueindex(1));
    mdl_context *ctx = mdl_ctx(L);
    /* Atomic stores (plain moves on x86): the budget's watchdog reads it. */
    __atomic_store_n(&ctx->in_swift, ctx->in_swift + 1, __ATOMIC_RELAXED);
    int results = function(L);
    __atomic_store_n(&ctx->in_swift, ctx->in_swift - 1, __ATOMIC_RELAXED);
    if (results == MDL_RAISE) return lua_error(L);
    return results;
}

void mdl_pushswiftfunction(lua_State *L, mdl_SwiftFunction function, int upvalues) {
    lua_pushlightuserdata(L, (void *)function);
    if (upvalues > 0) lua_rotate(L, -(upvalues + 1), 1);
    lua_pushcclosure(L, mdl_trampoline, upvalues + 1);
}

int mdl_traceback(lua_State *L) {
    const char *message = lua_tostring(L, 1);
    if (message == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        message = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, message, 1);
    return 1;
}
