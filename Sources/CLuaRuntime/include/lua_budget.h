#ifndef MICRODOT_LUA_BUDGET_H
#define MICRODOT_LUA_BUDGET_H

/* The time budget of Lua slices (--handler-timeout), enforced the way lua.c
   stops a script on Ctrl-C: no hook runs while a slice is within its budget
   (a count hook set all the time makes Lua check on every instruction); a
   watchdog thread signals the worker's thread once a slice is overdue, and
   the signal handler sets a count hook on the Lua threads that are running,
   which then raises (or, if the error is swallowed, yields). */

#include <lua.h>

/* Watches `context` (an mdl_context) from now on; starts the watchdog and
   installs the SIGURG handler the first time. */
void mdl_budget_register(void *context);
/* Stops watching it: no signal is sent for it after this returns. */
void mdl_budget_unregister(void *context);

/* Around every lua_pcall/lua_resume from the host: `running` is the thread
   that runs (the state itself for a pcall). The outermost slice starts the
   clock when the state has a budget. */
void mdl_slice_enter(lua_State *running);
void mdl_slice_leave(lua_State *running);

/* coroutine.resume, recording which coroutine runs so that the signal
   handler can stop a runaway inside a nested coroutine too. */
int mdl_coresume(lua_State *L);

#endif
