#ifndef MICRODOT_LUA_SHIM_H
#define MICRODOT_LUA_SHIM_H

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

/* Swift functions exposed to Lua never raise: they return this marker with the
   error value on top of the stack, and the trampoline raises once the Swift
   frame has returned (a longjmp must not cross Swift frames). */
#define MDL_RAISE (-1)

typedef int (*mdl_SwiftFunction)(lua_State *L);

static int mdl_trampoline(lua_State *L) {
    mdl_SwiftFunction function = (mdl_SwiftFunction)lua_touserdata(L, lua_upvalueindex(1));
    int results = function(L);
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

/* Each thread of a state starts with a copy of the main thread's extra space:
   it carries the owning worker, so a Swift function finds it in O(1). */
static inline void mdl_setcontext(lua_State *L, void *context) { *(void **)lua_getextraspace(L) = context; }
static inline void *mdl_getcontext(lua_State *L) { return *(void **)lua_getextraspace(L); }

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
