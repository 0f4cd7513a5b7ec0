#ifndef MICRODOT_LUA_SHIM_H
#define MICRODOT_LUA_SHIM_H

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>

#include <stdlib.h>
#include <time.h>
#include <pthread.h>

/* What a state and all its threads share, found through the extra space of
   every thread (each thread starts with a copy of the main thread's). */
typedef struct {
    void *worker;          /* the Swift Worker that owns the state */
    size_t used;           /* bytes the state has allocated */
    size_t limit;          /* allocations past this fail (0: no limit) */
    int protected_depth;   /* > 0 while Swift runs Lua protected (pcall, resume) */
    int in_swift;          /* > 0 while a Swift function called from Lua runs */
    double deadline;       /* CLOCK_MONOTONIC seconds the running slice must end by (0: none) */
    double budget;         /* the slice's length, for the error message */
    int expired;           /* the deadline passed and an error was raised */
    int abandoned;         /* the slice ignored that error: its coroutine was stopped */
    int over_limit;        /* a memory error was raised: headroom for handling it */
    void *refused;         /* the last refused block and size (Lua retries once after a GC) */
    size_t refused_size;
    /* The budget's bookkeeping (CLuaBudget): the thread that runs the slice
       and the Lua threads resumed inside it (innermost last). */
    pthread_t owner;
    void *outer;           /* the slice of another state this one runs inside, if any */
    lua_State *running[32];
    int running_count;
} mdl_context;

static inline mdl_context *mdl_ctx(lua_State *L) { return *(mdl_context **)lua_getextraspace(L); }
static inline void *mdl_getcontext(lua_State *L) { return mdl_ctx(L)->worker; }

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

static inline lua_State *mdl_newstate(mdl_context *ctx) {
    lua_State *L = lua_newstate(mdl_alloc, ctx);
    if (L == NULL) return NULL;
    *(mdl_context **)lua_getextraspace(L) = ctx;
    lua_atpanic(L, mdl_panic);
    return L;
}

static inline double mdl_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Swift functions exposed to Lua never raise: they return this marker with the
   error value on top of the stack, and the trampoline raises once the Swift
   frame has returned (a longjmp must not cross Swift frames). */
#define MDL_RAISE (-1)

typedef int (*mdl_SwiftFunction)(lua_State *L);

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

/* Pushes a Swift function as a Lua closure; `upvalues` values on the stack
   become its upvalues 2..n+1 (upvalue 1 holds the function pointer). */
static inline void mdl_pushswiftfunction(lua_State *L, mdl_SwiftFunction function, int upvalues) {
    lua_pushlightuserdata(L, (void *)function);
    if (upvalues > 0) lua_rotate(L, -(upvalues + 1), 1);
    lua_pushcclosure(L, mdl_trampoline, upvalues + 1);
}

static inline int mdl_upvalueindex(int i) { return lua_upvalueindex(i + 1); }
static inline int mdl_registryindex(void) { return LUA_REGISTRYINDEX; }

static inline void mdl_pop(lua_State *L, int n) { lua_pop(L, n); }
static inline void mdl_newtable(lua_State *L) { lua_newtable(L); }
static inline void mdl_remove(lua_State *L, int index) { lua_remove(L, index); }
static inline void mdl_insert(lua_State *L, int index) { lua_insert(L, index); }
static inline void mdl_replace(lua_State *L, int index) { lua_replace(L, index); }
static inline int mdl_pcall(lua_State *L, int nargs, int nresults, int msgh) { return lua_pcall(L, nargs, nresults, msgh); }
static inline const char *mdl_tolstring(lua_State *L, int index, size_t *len) { return lua_tolstring(L, index, len); }
static inline lua_Integer mdl_tointegerx(lua_State *L, int index, int *isnum) { return lua_tointegerx(L, index, isnum); }
static inline lua_Number mdl_tonumber(lua_State *L, int index) { return lua_tonumberx(L, index, NULL); }
static inline int mdl_isinteger(lua_State *L, int index) { return lua_isinteger(L, index); }
static inline int mdl_loadbuffer(lua_State *L, const char *buffer, size_t size, const char *name) {
    return luaL_loadbufferx(L, buffer, size, name, "t");
}
static inline int mdl_getglobal(lua_State *L, const char *name) { return lua_getglobal(L, name); }

/* A message handler for lua_pcall that adds a traceback to string errors. */
static int mdl_traceback(lua_State *L) {
    const char *message = lua_tostring(L, 1);
    if (message == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        message = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, message, 1);
    return 1;
}
static inline void mdl_pushtraceback(lua_State *L) { lua_pushcfunction(L, mdl_traceback); }

#endif
