// A C interface to RE2 (a regular expression engine whose matching time is
// linear in the subject): the engine behind `<re:...>` route segments,
// registered segment types and URL patterns with several `<path:>` segments.
#ifndef MDL_RE2_H
#define MDL_RE2_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// A compiled expression.
typedef struct mdl_re2 mdl_re2;

/// Compiles `pattern` (UTF-8, RE2 syntax). On failure returns NULL and, when
/// `error` is not NULL, writes a NUL-terminated message into it (at most
/// `error_size` bytes).
mdl_re2 *mdl_re2_compile(const char *pattern, size_t length, char *error, size_t error_size);

/// The number of capturing groups of `re`.
int mdl_re2_groups(const mdl_re2 *re);

/// Matches `re` against the whole of `subject`. On a match returns 1 and
/// fills `offsets` (2 * groups entries: start and end of each group, -1 for
/// a group that took no part); else returns 0.
int mdl_re2_full_match(const mdl_re2 *re, const char *subject, size_t length, long *offsets, int groups);

/// Frees `re`.
void mdl_re2_free(mdl_re2 *re);

#ifdef __cplusplus
}
#endif

#endif
