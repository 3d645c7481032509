/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Logging from the protocol core.
 *
 * The core never includes httpd headers. It reports through one callback that
 * the Apache glue installs (forwarding to ap_log_error with the module index,
 * so `LogLevel tp_oauth:debug` covers every file). Unit tests leave it unset
 * (messages are dropped) or install their own.
 *
 * Never pass a token, secret or cookie value to tpo_log().
 */
#ifndef TPO_LOG_H
#define TPO_LOG_H

/* syslog-style levels, same numbers as APLOG_* */
#define TPO_LOG_ERR 3
#define TPO_LOG_WARN 4
#define TPO_LOG_NOTICE 5
#define TPO_LOG_INFO 6
#define TPO_LOG_DEBUG 7

typedef void tpo_log_fn(const char *file, int line, int level, const char *msg);
/* The level in effect now (the glue answers for the current request or
 * server); messages above it are not even formatted. */
typedef int tpo_log_level_fn(void);

/* max_level applies while no level function is installed. */
void tpo_log_set(tpo_log_fn *fn, int max_level);
void tpo_log_set_level_fn(tpo_log_level_fn *fn);
int tpo_log_enabled(int level);
void tpo_log(const char *file, int line, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define TPO_LOG_MARK __FILE__, __LINE__

/* Log message numbers: httpd's APLOGNO() convention with our own prefix
 * (the AH numbers are httpd's):
 * TPO_APLOGNO(00042) "text" gives "TPO00042: text". Every log call in src/
 * carries one; the registry is docs/log-messages.txt and tools/check-lognos
 * (run by make check) keeps code and registry in step. Write TPO_APLOGNO() in
 * a new call and run `tools/check-lognos --assign` to number it. */
#define TPO_APLOGNO(n) "TPO" #n ": "

#endif
