/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
#include <stdarg.h>
#include <stdio.h>
#include "tpo_log.h"

static tpo_log_fn *log_fn;
static tpo_log_level_fn *log_level_fn;
static int log_max_level = TPO_LOG_WARN;

void tpo_log_set(tpo_log_fn *fn, int max_level)
{
    log_fn = fn;
    log_max_level = max_level;
}

void tpo_log_set_level_fn(tpo_log_level_fn *fn)
{
    log_level_fn = fn;
}

int tpo_log_enabled(int level)
{
    if (log_fn == NULL) {
        return 0;
    }
    return level <= (log_level_fn ? log_level_fn() : log_max_level);
}

void tpo_log(const char *file, int line, int level, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    if (!tpo_log_enabled(level)) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    log_fn(file, line, level, buf);
}
