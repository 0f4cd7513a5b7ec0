#include "mdl_re2.h"

#include <re2/re2.h>

#include <cstdio>
#include <cstring>
#include <new>
#include <vector>

struct mdl_re2 {
    re2::RE2 re;
    explicit mdl_re2(const re2::StringPiece &pattern, const re2::RE2::Options &options) : re(pattern, options) {}
};

extern "C" mdl_re2 *mdl_re2_compile(const char *pattern, size_t length, char *error, size_t error_size) {
    re2::RE2::Options options;
    options.set_log_errors(false);
    mdl_re2 *compiled = new (std::nothrow) mdl_re2(re2::StringPiece(pattern, length), options);
    if (compiled == nullptr) {
        if (error != nullptr && error_size > 0) std::snprintf(error, error_size, "out of memory");
        return nullptr;
    }
    if (!compiled->re.ok()) {
        if (error != nullptr && error_size > 0) std::snprintf(error, error_size, "%s", compiled->re.error().c_str());
        delete compiled;
        return nullptr;
    }
    return compiled;
}

extern "C" int mdl_re2_groups(const mdl_re2 *re) { return re->re.NumberOfCapturingGroups(); }

extern "C" int mdl_re2_full_match(const mdl_re2 *re, const char *subject, size_t length, long *offsets, int groups) {
    std::vector<re2::StringPiece> submatches(static_cast<size_t>(groups) + 1);
    re2::StringPiece text(subject, length);
    if (!re->re.Match(text, 0, length, re2::RE2::ANCHOR_BOTH, submatches.data(), groups + 1)) return 0;
    for (int group = 0; group < groups; group++) {
        const re2::StringPiece &piece = submatches[static_cast<size_t>(group) + 1];
        if (piece.data() == nullptr) {
            offsets[2 * group] = -1;
            offsets[2 * group + 1] = -1;
        } else {
            offsets[2 * group] = static_cast<long>(piece.data() - subject);
            offsets[2 * group + 1] = static_cast<long>(piece.data() - subject + piece.size());
        }
    }
    return 1;
}

extern "C" void mdl_re2_free(mdl_re2 *re) { delete re; }
