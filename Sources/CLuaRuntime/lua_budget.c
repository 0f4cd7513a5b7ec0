#include "lua_budget.h"
#include "lua_runtime.h"

#include <errno.h>
#include <lauxlib.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How often the watchdog looks for overdue slices, and how many
   instructions a hooked thread runs between checks. */
#define WATCH_INTERVAL_NS 20000000L
#define HOOK_INSTRUCTIONS 1000
#define MAX_RUNNING ((int)(sizeof(((mdl_context *)0)->running) / sizeof(lua_State *)))

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static mdl_context **watched;
static size_t watched_count, watched_capacity;
/* The context whose slice runs on this thread (NULL between slices): the
   signal handler finds it here, so it never sees a context being freed. */
static pthread_key_t current;

static double mdl_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double load_deadline(mdl_context *ctx) {
    double value;
    __atomic_load(&ctx->deadline, &value, __ATOMIC_ACQUIRE);
    return value;
}

static void store_deadline(mdl_context *ctx, double value) {
    __atomic_store(&ctx->deadline, &value, __ATOMIC_RELEASE);
}

/* Runs on a hooked thread every HOOK_INSTRUCTIONS instructions once the
   signal handler armed it: a slice past its deadline gets an error, and
   again at every later check until it yields or returns, so a pcall in a
   loop cannot keep it alive. On a thread whose slice is within its budget
   (a coroutine hooked in an earlier slice, resumed later), it removes itself. */
static void budget_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    mdl_context *ctx = mdl_ctx(L);
    double deadline = load_deadline(ctx);
    if (deadline <= 0 || (!ctx->expired && mdl_now() <= deadline)) {
        lua_sethook(L, NULL, 0, 0);
        return;
    }
    if (ctx->expired && lua_isyieldable(L)) {
        /* It caught the error and ran on: suspend this coroutine (a hook may
           yield in 5.4). The host discards the request, whatever the
           coroutines above it do next. */
        ctx->abandoned = 1;
        lua_yield(L, 0);
        return;
    }
    ctx->expired = 1;
    lua_pushfstring(L, "handler timeout: Lua ran for more than %f seconds without yielding", ctx->budget);
    lua_error(L);
}

/* On the worker's thread, interrupting whatever it does. lua_sethook is
   safe here (lua.c calls it from its SIGINT handler): it only sets fields of
   the thread and of its active call frames. */
static void on_signal(int signal) {
    (void)signal;
    int saved = errno;
    mdl_context *ctx = pthread_getspecific(current);
    if (ctx != NULL && load_deadline(ctx) > 0) {
        int count = ctx->running_count < MAX_RUNNING ? ctx->running_count : MAX_RUNNING;
        for (int i = 0; i < count; i++) {
            lua_sethook(ctx->running[i], budget_hook, LUA_MASKCOUNT, HOOK_INSTRUCTIONS);
        }
    }
    errno = saved;
}

static void *watch(void *unused) {
    (void)unused;
    sigset_t blocked;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGURG);
    pthread_sigmask(SIG_BLOCK, &blocked, NULL);
    struct timespec interval = { 0, WATCH_INTERVAL_NS };
    for (;;) {
        nanosleep(&interval, NULL);
        double now = mdl_now();
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < watched_count; i++) {
            mdl_context *ctx = watched[i];
            double deadline = load_deadline(ctx);
            /* A deadline is set only while a slice runs on its (live) owner.
               A Swift function it called cannot be stopped by a hook: it is
               left alone (not interrupted in its system calls) until it
               returns to Lua. */
            if (deadline > 0 && now > deadline && __atomic_load_n(&ctx->in_swift, __ATOMIC_RELAXED) == 0) {
                pthread_kill(ctx->owner, SIGURG);
            }
        }
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

static void start(void) {
    pthread_key_create(&current, NULL);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigaction(SIGURG, &action, NULL);
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attributes, 64 * 1024);
    pthread_t watchdog;
    pthread_create(&watchdog, &attributes, watch, NULL);
    pthread_attr_destroy(&attributes);
}

void mdl_budget_register(void *context) {
    pthread_once(&once, start);
    pthread_mutex_lock(&lock);
    if (watched_count == watched_capacity) {
        size_t capacity = watched_capacity ? watched_capacity * 2 : 16;
        mdl_context **grown = realloc(watched, capacity * sizeof *grown);
        if (grown == NULL) {
            pthread_mutex_unlock(&lock);
            return;
        }
        watched = grown;
        watched_capacity = capacity;
    }
    watched[watched_count++] = context;
    pthread_mutex_unlock(&lock);
}

void mdl_budget_unregister(void *context) {
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < watched_count; i++) {
        if (watched[i] == context) {
            watched[i] = watched[--watched_count];
            break;
        }
    }
    pthread_mutex_unlock(&lock);
}

void mdl_slice_enter(lua_State *running) {
    mdl_context *ctx = mdl_ctx(running);
    if (ctx->protected_depth++ == 0) {
        ctx->running_count = 0;
        if (ctx->budget > 0) {
            ctx->expired = 0;
            ctx->abandoned = 0;
            ctx->owner = pthread_self();
            ctx->outer = pthread_getspecific(current);
            pthread_setspecific(current, ctx);
            store_deadline(ctx, mdl_now() + ctx->budget);
        }
    }
    if (ctx->running_count < MAX_RUNNING) ctx->running[ctx->running_count] = running;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    ctx->running_count++;
}

void mdl_slice_leave(lua_State *running) {
    mdl_context *ctx = mdl_ctx(running);
    ctx->running_count--;
    if (--ctx->protected_depth > 0) return;
    if (ctx->budget > 0) {
        store_deadline(ctx, 0);
        pthread_setspecific(current, ctx->outer);
        ctx->expired = 0;
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        /* The thread the host resumed may have been hooked (it is pooled);
           other hooked threads remove their hook at their next check. */
        lua_sethook(running, NULL, 0, 0);
    }
}

/* coroutine.resume as in Lua 5.4's lcorolib.c, with the resumed coroutine
   recorded for the signal handler while it runs. */
int mdl_coresume(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTHREAD);
    lua_State *co = lua_tothread(L, 1);
    int arguments = lua_gettop(L) - 1;
    if (!lua_checkstack(co, arguments)) {
        lua_pushboolean(L, 0);
        lua_pushliteral(L, "too many arguments to resume");
        return 2;
    }
    lua_xmove(L, co, arguments);
    mdl_context *ctx = mdl_ctx(L);
    if (ctx->running_count < MAX_RUNNING) ctx->running[ctx->running_count] = co;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    ctx->running_count++;
    int results = 0;
    int status = lua_resume(co, L, arguments, &results);
    ctx->running_count--;
    if (status == LUA_OK || status == LUA_YIELD) {
        if (!lua_checkstack(L, results + 1)) {
            lua_pop(co, results);
            lua_pushboolean(L, 0);
            lua_pushliteral(L, "too many results to resume");
            return 2;
        }
        lua_xmove(co, L, results);
        lua_pushboolean(L, 1);
        lua_insert(L, -(results + 1));
        return results + 1;
    }
    lua_xmove(co, L, 1); /* the error (nothing to move when co is L) */
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
}
