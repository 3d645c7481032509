/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Trusted proxies and the Forwarded / X-Forwarded-* values (tpo_forwarded.c). */
#include <string.h>
#include <apr_strings.h>
#include "tpo_test.h"
#include "tpo_forwarded.h"

static int in(const char *net, const char *ip)
{
    tpo_cidr c;
    ck_assert_msg(tpo_cidr_parse(net, &c), "parse %s", net);
    return tpo_cidr_match(&c, 1, ip);
}

START_TEST(cidr_parse_cases)
{
    tpo_cidr c;

    ck_assert_int_eq(tpo_cidr_parse("127.0.0.1", &c), 1);
    ck_assert_int_eq(c.bits, 32);
    ck_assert_int_eq(c.v6, 0);
    ck_assert_int_eq(tpo_cidr_parse("10.1.2.3/8", &c), 1);
    ck_assert_int_eq(c.bits, 8);
    ck_assert_int_eq(c.addr[1], 0); /* host bits cleared */
    ck_assert_int_eq(tpo_cidr_parse("::1", &c), 1);
    ck_assert_int_eq(c.v6, 1);
    ck_assert_int_eq(c.bits, 128);
    ck_assert_int_eq(tpo_cidr_parse("2001:db8::/32", &c), 1);
    ck_assert_int_eq(tpo_cidr_parse("0.0.0.0/0", &c), 1);
    ck_assert_int_eq(tpo_cidr_parse("10.0.0.0/33", &c), 0);
    ck_assert_int_eq(tpo_cidr_parse("::/129", &c), 0);
    ck_assert_int_eq(tpo_cidr_parse("10.0.0.0/", &c), 0);
    ck_assert_int_eq(tpo_cidr_parse("10.0.0.0/-1", &c), 0);
    ck_assert_int_eq(tpo_cidr_parse("10.0.0.0/8x", &c), 0);
    ck_assert_int_eq(tpo_cidr_parse("10.0.0.0/0008", &c), 0);
    ck_assert_int_eq(tpo_cidr_parse("/8", &c), 0);
    ck_assert_int_eq(tpo_cidr_parse("localhost", &c), 0);
    ck_assert_int_eq(tpo_cidr_parse("10.0.0", &c), 0);
    ck_assert_int_eq(tpo_cidr_parse("256.0.0.1", &c), 0);
    ck_assert_int_eq(tpo_cidr_parse("[::1]", &c), 0);
    ck_assert_int_eq(tpo_cidr_parse("", &c), 0);
    ck_assert_int_eq(tpo_cidr_parse(NULL, &c), 0);
}
END_TEST

START_TEST(cidr_match_cases)
{
    tpo_cidr list[2];

    ck_assert_int_eq(in("127.0.0.1", "127.0.0.1"), 1);
    ck_assert_int_eq(in("127.0.0.1", "127.0.0.2"), 0);
    ck_assert_int_eq(in("10.0.0.0/8", "10.255.1.2"), 1);
    ck_assert_int_eq(in("10.0.0.0/8", "11.0.0.1"), 0);
    ck_assert_int_eq(in("192.168.4.0/22", "192.168.7.255"), 1);
    ck_assert_int_eq(in("192.168.4.0/22", "192.168.8.0"), 0);
    ck_assert_int_eq(in("0.0.0.0/0", "8.8.8.8"), 1);
    ck_assert_int_eq(in("0.0.0.0/0", "::1"), 0);
    ck_assert_int_eq(in("::1", "::1"), 1);
    ck_assert_int_eq(in("::1", "::2"), 0);
    ck_assert_int_eq(in("2001:db8::/32", "2001:DB8:ffff::1"), 1);
    ck_assert_int_eq(in("2001:db8::/33", "2001:db8:8000::1"), 0);
    ck_assert_int_eq(in("fe80::/10", "febf::1"), 1);
    ck_assert_int_eq(in("fe80::/10", "fec0::1"), 0);
    /* IPv4-mapped IPv6 (a dual-stack listener) matches the IPv4 network */
    ck_assert_int_eq(in("127.0.0.0/8", "::ffff:127.0.0.2"), 1);
    ck_assert_int_eq(in("127.0.0.1", "::ffff:127.0.0.2"), 0);
    /* never an address */
    ck_assert_int_eq(in("127.0.0.1", "127.0.0.1 "), 0);
    ck_assert_int_eq(in("127.0.0.1", "127.0.0.1/32"), 0);
    ck_assert_int_eq(in("127.0.0.1", ""), 0);
    ck_assert_int_eq(in("127.0.0.1", "localhost"), 0);
    ck_assert_int_eq(in("::1", "[::1]"), 0);
    ck_assert_int_eq(tpo_cidr_match(list, 0, "127.0.0.1"), 0);
    ck_assert_int_eq(tpo_cidr_parse("10.0.0.0/8", &list[0]), 1);
    ck_assert_int_eq(tpo_cidr_parse("::1", &list[1]), 1);
    ck_assert_int_eq(tpo_cidr_match(list, 2, "::1"), 1);
    ck_assert_int_eq(tpo_cidr_match(list, 2, "10.9.9.9"), 1);
    ck_assert_int_eq(tpo_cidr_match(list, 2, "9.9.9.9"), 0);
    ck_assert_int_eq(tpo_cidr_match(list, 2, NULL), 0);
}
END_TEST

/* parse and render the URL of "/cb" against http://rp:8080 */
static const char *url_of(const char *fwd, const char *xp, const char *xh, const char *xport)
{
    tpo_fwd f;
    tpo_fwd_parse(tpo_test_pool, fwd, xp, xh, xport, &f);
    return tpo_fwd_url(tpo_test_pool, &f, "http", "rp", 8080, "/cb");
}

START_TEST(xforwarded_cases)
{
    ck_assert_str_eq(url_of(NULL, NULL, NULL, NULL), "http://rp:8080/cb");
    ck_assert_str_eq(url_of(NULL, "https", NULL, NULL), "https://rp/cb");
    ck_assert_str_eq(url_of(NULL, "HTTPS", "App.Example", NULL), "https://app.example/cb");
    ck_assert_str_eq(url_of(NULL, "https", "app.example:8443", NULL),
                     "https://app.example:8443/cb");
    ck_assert_str_eq(url_of(NULL, "https", "app.example", "8443"), "https://app.example:8443/cb");
    ck_assert_str_eq(url_of(NULL, "https", "app.example:444", "8443"),
                     "https://app.example:444/cb");
    ck_assert_str_eq(url_of(NULL, "http", "app.example", "443"), "http://app.example:443/cb");
    ck_assert_str_eq(url_of(NULL, NULL, "app.example", NULL), "http://app.example/cb");
    /* several values: the last (the nearest proxy's) */
    ck_assert_str_eq(url_of(NULL, "http, https", "evil.example ,  app.example ", NULL),
                     "https://app.example/cb");
    ck_assert_str_eq(url_of(NULL, "https,http", NULL, NULL), "http://rp/cb");
    /* IPv6 */
    ck_assert_str_eq(url_of(NULL, "https", "[2001:DB8::1]:8443", NULL),
                     "https://[2001:db8::1]:8443/cb");
    ck_assert_str_eq(url_of(NULL, "https", "[::1]", NULL), "https://[::1]/cb");
    /* invalid values are ignored, one by one */
    ck_assert_str_eq(url_of(NULL, "ftp", NULL, NULL), "http://rp:8080/cb");
    ck_assert_str_eq(url_of(NULL, "https ", NULL, NULL), "https://rp/cb");
    ck_assert_str_eq(url_of(NULL, "ht tps", NULL, NULL), "http://rp:8080/cb");
    ck_assert_str_eq(url_of(NULL, "https", "evil.example/x", NULL), "https://rp/cb");
    ck_assert_str_eq(url_of(NULL, "https", "a@evil.example", NULL), "https://rp/cb");
    ck_assert_str_eq(url_of(NULL, "https", "app.example:", NULL), "https://rp/cb");
    ck_assert_str_eq(url_of(NULL, "https", "app.example:0", NULL), "https://rp/cb");
    ck_assert_str_eq(url_of(NULL, "https", "app.example:65536", NULL), "https://rp/cb");
    ck_assert_str_eq(url_of(NULL, "https", "app.example:-1", NULL), "https://rp/cb");
    ck_assert_str_eq(url_of(NULL, "https", "app.example:80:80", NULL), "https://rp/cb");
    ck_assert_str_eq(url_of(NULL, "https", "app.example:0x50", NULL), "https://rp/cb");
    ck_assert_str_eq(url_of(NULL, "https", "[::1", NULL), "https://rp/cb");
    ck_assert_str_eq(url_of(NULL, "https", "[evil]", NULL), "https://rp/cb");
    ck_assert_str_eq(url_of(NULL, "https", "[::1]x", NULL), "https://rp/cb");
    ck_assert_str_eq(url_of(NULL, "https", "app.example\r\nX: 1", NULL), "https://rp/cb");
    ck_assert_str_eq(url_of(NULL, "https", "", NULL), "https://rp/cb");
    ck_assert_str_eq(url_of(NULL, NULL, NULL, "99999"), "http://rp:8080/cb");
    ck_assert_str_eq(url_of(NULL, NULL, NULL, "8443"), "http://rp:8443/cb");
    ck_assert_str_eq(url_of(NULL, "https", NULL, " 8443 "), "https://rp:8443/cb");
    ck_assert_str_eq(url_of(NULL, "https", NULL, "84 43"), "https://rp/cb");
}
END_TEST

START_TEST(forwarded_cases)
{
    /* RFC 7239 examples */
    ck_assert_str_eq(url_of("for=192.0.2.60;proto=https;by=203.0.113.43", NULL, NULL, NULL),
                     "https://rp/cb");
    ck_assert_str_eq(url_of("for=\"_gazonk\";Proto=HTTPS;Host=App.Example", NULL, NULL, NULL),
                     "https://app.example/cb");
    ck_assert_str_eq(url_of("for=\"[2001:db8:cafe::17]:4711\";proto=https;host=\"[::1]:8443\"",
                            NULL, NULL, NULL),
                     "https://[::1]:8443/cb");
    /* the last element counts; commas inside quoted strings do not split */
    ck_assert_str_eq(url_of("proto=http;host=evil, proto=https;host=app.example", NULL, NULL, NULL),
                     "https://app.example/cb");
    ck_assert_str_eq(url_of("proto=https;host=app.example;for=\"a,b\"", NULL, NULL, NULL),
                     "https://app.example/cb");
    ck_assert_str_eq(url_of("proto=https, for=1.2.3.4", NULL, NULL, NULL), "http://rp:8080/cb");
    /* OWS around ';' and ',', quoted-pair */
    ck_assert_str_eq(url_of(" proto=https ; host=\"app\\.example\" ", NULL, NULL, NULL),
                     "https://app.example/cb");
    /* Forwarded present: X-Forwarded-* are not looked at */
    ck_assert_str_eq(url_of("proto=https", "http", "evil.example", "81"), "https://rp/cb");
    ck_assert_str_eq(url_of("for=1.2.3.4", "https", "evil.example", "81"), "http://rp:8080/cb");
    /* broken syntax: nothing */
    ck_assert_str_eq(url_of("proto=https;host=\"app.example", NULL, NULL, NULL),
                     "http://rp:8080/cb");
    ck_assert_str_eq(url_of("proto=https;host=\"app\\", NULL, NULL, NULL), "http://rp:8080/cb");
    ck_assert_str_eq(url_of("proto=https;proto=http", NULL, NULL, NULL), "http://rp:8080/cb");
    ck_assert_str_eq(url_of("proto=https;host=a;host=b", NULL, NULL, NULL), "http://rp:8080/cb");
    ck_assert_str_eq(url_of("proto = https", NULL, NULL, NULL), "http://rp:8080/cb");
    ck_assert_str_eq(url_of("proto=", NULL, NULL, NULL), "http://rp:8080/cb");
    ck_assert_str_eq(url_of("=https", NULL, NULL, NULL), "http://rp:8080/cb");
    ck_assert_str_eq(url_of("proto=https host=x", NULL, NULL, NULL), "http://rp:8080/cb");
    ck_assert_str_eq(url_of("proto=https;host=x\r\n", NULL, NULL, NULL), "http://rp:8080/cb");
    ck_assert_str_eq(url_of("proto=\"https\"x", NULL, NULL, NULL), "http://rp:8080/cb");
    /* an invalid value inside valid syntax: that field alone is unset */
    ck_assert_str_eq(url_of("proto=https;host=\"a b\"", NULL, NULL, NULL), "https://rp/cb");
    ck_assert_str_eq(url_of("proto=gopher;host=app.example", NULL, NULL, NULL),
                     "http://app.example/cb");
    ck_assert_str_eq(url_of("proto=https;host=\"app.example:99999\"", NULL, NULL, NULL),
                     "https://rp/cb");
    ck_assert_str_eq(url_of(";;proto=https;;", NULL, NULL, NULL), "https://rp/cb");
    ck_assert_str_eq(url_of("", NULL, NULL, NULL), "http://rp:8080/cb");
    ck_assert_str_eq(url_of(",", NULL, NULL, NULL), "http://rp:8080/cb");
}
END_TEST

START_TEST(fwd_url_cases)
{
    ck_assert_str_eq(tpo_fwd_url(tpo_test_pool, NULL, "https", "h", 443, ""), "https://h");
    ck_assert_str_eq(tpo_fwd_url(tpo_test_pool, NULL, "https", "h", 80, ""), "https://h:80");
    ck_assert_str_eq(tpo_fwd_url(tpo_test_pool, NULL, "http", "h", 80, "/x?y"), "http://h/x?y");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("forwarded");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, tpo_test_setup, tpo_test_teardown);
    tcase_add_test(tc, cidr_parse_cases);
    tcase_add_test(tc, cidr_match_cases);
    tcase_add_test(tc, xforwarded_cases);
    tcase_add_test(tc, forwarded_cases);
    tcase_add_test(tc, fwd_url_cases);
    suite_add_tcase(s, tc);
    return tpo_test_run(s);
}
