#ifndef MICRODOT_LUA_RUNTIME_H
#define MICRODOT_LUA_RUNTIME_H

/* The C side of a worker's Lua state: the context its threads share, the
   allocator that enforces the memory limit, and the bridge that lets Swift
   functions be called from Lua. */

#include <lua.h>
#include <pthread.h>
#include <stddef.h>

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
    /* The budget's bookkeeping (lua_budget.c): the thread that runs the
       slice and the Lua threads resumed inside it (innermost last). */
    pthread_t owner;
    void *outer;           /* the slice of another state this one runs inside, if any */
    lua_State *running[32];
    int running_count;
} mdl_context;

static inline mdl_context *mdl_ctx(lua_State *L) { return *(mdl_context **)lua_getextraspace(L); }
/* The Swift Worker that owns L's state. */
static inline void *mdl_getworker(lua_State *L) { return mdl_ctx(L)->worker; }

/* A new state that allocates through the memory-limit allocator, with `ctx`
   in its extra space; NULL when it cannot be allocated. */
lua_State *mdl_newstate(mdl_context *ctx);

/* Swift functions exposed to Lua never raise: they return this marker with the
   error value on top of the stack, and the trampoline raises once the Swift
   frame has returned (a longjmp must not cross Swift frames). */
#define MDL_RAISE (-1)

typedef int (*mdl_SwiftFunction)(lua_State *L);

/* Pushes a Swift function as a Lua closure; `upvalues` values on the stack
   become its upvalues 2..n+1 (upvalue 1 holds the function pointer). */
void mdl_pushswiftfunction(lua_State *L, mdl_SwiftFunction function, int upvalues);

/* Upvalue i of a Swift function (the trampoline's upvalue i + 1). */
static inline int mdl_upvalueindex(int i) { return lua_upvalueindex(i + 1); }

/* A message handler for lua_pcall that adds a traceback to string errors. */
int mdl_traceback(lua_State *L);

#endif
