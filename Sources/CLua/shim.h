#ifndef MICRODOT_LUA_SHIM_H
#define MICRODOT_LUA_SHIM_H

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

/* Lua's API macros, as functions Swift can call (Swift imports no
   function-like macros). */

static inline int mdl_registryindex(void) { return LUA_REGISTRYINDEX; }

static inline void mdl_pop(lua_State *L, int n) { lua_pop(L, n); }
static inline void mdl_remove(lua_State *L, int index) { lua_remove(L, index); }
static inline void mdl_insert(lua_State *L, int index) { lua_insert(L, index); }
static inline int mdl_pcall(lua_State *L, int nargs, int nresults, int msgh) { return lua_pcall(L, nargs, nresults, msgh); }
static inline const char *mdl_tolstring(lua_State *L, int index, size_t *len) { return lua_tolstring(L, index, len); }
static inline lua_Integer mdl_tointegerx(lua_State *L, int index, int *isnum) { return lua_tointegerx(L, index, isnum); }
static inline lua_Number mdl_tonumber(lua_State *L, int index) { return lua_tonumberx(L, index, NULL); }
static inline int mdl_isinteger(lua_State *L, int index) { return lua_isinteger(L, index); }
static inline int mdl_loadbuffer(lua_State *L, const char *buffer, size_t size, const char *name) {
    return luaL_loadbufferx(L, buffer, size, name, "t");
}
static inline int mdl_getglobal(lua_State *L, const char *name) { return lua_getglobal(L, name); }

#endif
