/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Prints the directive table (src/mod_tp_oauth_directive_table.h), one
 * directive a line: name, context and default (the argument text from
 * tpo_defaults.h, "-" for none or computed), separated by tabs.
 * test/unit/check_directives.py compares this with README.md and
 * conf/tp_oauth.conf. Needs no httpd: the table's handlers and fields are
 * not expanded here. */
#include <stdio.h>

#define TPO_DIR(id, name, args, handler, ctx, type, field, min, max, kw, def, help)                \
    {name, #ctx, def},

static const struct row {
    const char *name, *ctx, *def;
} rows[] = {
#include "mod_tp_oauth_directive_table.h"
};

int main(void)
{
    size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        printf("%s\t%s\t%s\n", rows[i].name, rows[i].ctx, rows[i].def ? rows[i].def : "-");
    }
    return 0;
}
