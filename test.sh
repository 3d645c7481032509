#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
# test.sh: every test of mod_tp_oauth, on a fresh Debian 12 machine (as root).
#
#  1. installs what is missing (Debian packages for every test, the benchmark, distcheck
#     and packaging; a Node.js >= 20 via tools/node.sh; npm ci for the test IdPs)
#  2. builds out of tree in ./build (--enable-werror), checks make install into a staging
#     root and the module's exported symbols, runs the C unit tests (make check)
#  3. runs the integration tests (real httpd + oidc-provider + headless Chromium; a skipped
#     test counts as a failure), make distcheck as a normal user, the Debian package
#     (build, lintian, install, a2enmod, configtest, a login, purge; root only) and a
#     benchmark smoke run
#  3c. runs every libFuzzer target (fuzz/) for a few seconds
#  4. builds ./build-asan with --enable-asan, runs the unit tests there and the
#     integration tests again with libasan preloaded into apache2 (no browser test)
#  5. prints one line "N passed, N failed" and exits non-zero on any failure.
#
# Environment: TPO_SKIP_ASAN=1 skips step 4, TPO_SKIP_BENCH=1 the benchmark smoke run,
# TPO_SKIP_PACKAGE=1 the Debian package; PYTEST_ARGS adds pytest arguments.
# TPO_SKIP_FUZZ=1 skips the fuzz step, TPO_FUZZ_SECONDS sets its time per target (10).
set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")"
ROOT=$PWD
PY=/usr/bin/python3
PASSED=0
FAILED=0
FAILURES=()
export PYTHONDONTWRITEBYTECODE=1 LANG=C.UTF-8

DONE=0
summary() {
    local rc=$?
    if ((DONE == 0)); then
        FAILED=$((FAILED + 1))
        FAILURES+=("test.sh stopped early (exit $rc)")
    fi
    echo
    if ((${#FAILURES[@]})); then
        echo "test.sh: failures:"
        printf '  - %s\n' "${FAILURES[@]}"
    fi
    echo "$PASSED passed, $FAILED failed"
    if ((FAILED > 0)); then exit 1; fi
    exit 0
}
trap summary EXIT

say() { printf '\n==== %s\n' "$*"; }
fail_step() { FAILED=$((FAILED + 1)); FAILURES+=("$1"); echo "test.sh: FAILED: $1" >&2; }

# ------------------------------------------------------------------ 1. install
# Everything a test, the benchmark smoke run, distcheck or the package test uses: a test
# never skips for a missing program on a machine where test.sh has run.
PKGS=(apache2 apache2-dev apache2-utils libcurl4-openssl-dev libjansson-dev libssl-dev libapr1-dev
      libaprutil1-dev check pkg-config autoconf automake libtool make gcc build-essential git
      python3-pytest python3-requests python3-selenium chromium chromium-driver
      memcached redis-server redis-sentinel wrk valgrind clang clang-format libclang-rt-14-dev
      debootstrap devscripts debhelper lintian dpkg-dev fakeroot binutils
      python3-cryptography openssl)

install_deps() {
    local missing=() p
    for p in "${PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$p")
    done
    # A Node.js from another packaging (e.g. one that bundles npm) counts as present.
    command -v node >/dev/null 2>&1 || missing+=(nodejs)
    command -v npm >/dev/null 2>&1 || missing+=(npm)
    if ((${#missing[@]})); then
        say "installing: ${missing[*]}"
        local sudo=""
        if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
        export DEBIAN_FRONTEND=noninteractive
        $sudo apt-get update -q || return 1
        $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" || return 1
    fi
}

npm_ci() {  # npm ci in $1 when node_modules is missing or older than package-lock.json
    local dir=$1
    [ -f "$dir/package.json" ] || return 0
    if [ ! -f "$dir/node_modules/.package-lock.json" ] \
        || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
        say "npm ci in $dir"
        (cd "$dir" && timeout 600 npm ci --no-audit --no-fund --loglevel=error) || return 1
    fi
}

say "dependencies"
install_deps || { fail_step "installing Debian packages"; DONE=1; exit 1; }
# shellcheck source=tools/node.sh
. "$ROOT/tools/node.sh"
tpo_ensure_node "$ROOT" || { fail_step "a Node.js >= $TPO_NODE_MAJOR (tools/node.sh)"; DONE=1; exit 1; }
echo "node: $TPO_NODE_BIN $("$TPO_NODE_BIN" --version)"
npm_ci test/idp || { fail_step "npm ci in test/idp"; DONE=1; exit 1; }
npm_ci test/fakeidp || { fail_step "npm ci in test/fakeidp"; DONE=1; exit 1; }

# ------------------------------------------------------------------ helpers
build_tree() {  # build_tree DIR [configure args...]
    local dir=$1; shift
    if [ ! -x configure ]; then
        say "autoreconf -fi"
        timeout 600 autoreconf -fi || return 1
    fi
    mkdir -p "$dir"
    if [ ! -f "$dir/Makefile" ]; then
        say "configure $* in $dir"
        (cd "$dir" && timeout 600 "$ROOT/configure" "$@" >configure.out 2>&1) \
            || { tail -30 "$dir/configure.out"; return 1; }
    fi
    say "make in $dir"
    timeout 1200 make -C "$dir" -j2 || return 1
    [ -f "$dir/src/.libs/mod_tp_oauth.so" ] || { echo "no $dir/src/.libs/mod_tp_oauth.so"; return 1; }
}

unit_tests() {  # unit_tests DIR LABEL: make check, per-test results, counts
    local dir=$1 label=$2 rc=0 log prog trs line n f sum_p=0 sum_f=0
    say "unit tests ($label)"
    CK_LOG_FILE_NAME=- CK_DEFAULT_TIMEOUT=60 timeout 1200 make -C "$dir" -j2 check >"$dir/check.out" 2>&1 || rc=$?
    grep -E '^(PASS|FAIL|ERROR|SKIP|XPASS|XFAIL):' "$dir/check.out" || true
    local found=0
    for trs in "$dir"/test/unit/*.trs; do
        [ -f "$trs" ] || continue
        found=1
        log=${trs%.trs}.log
        prog=$(basename "${trs%.trs}")
        # Check's verbose lines: file:line:P|F|E:tcase:test:iter: message
        grep -E '^[^:]+:[0-9]+:[PFE]:' "$log" 2>/dev/null \
            | awk -F: -v p="$prog" '{ r = ($3 == "P") ? "ok  " : "FAIL"; \
                msg = ""; for (i = 7; i <= NF; i++) msg = msg (i > 7 ? ":" : "") $i; \
                printf "  %s %s: %s/%s%s\n", r, p, $4, $5, ($3 == "P") ? "" : " --" msg }' || true
        # counts: the per-test lines when Check wrote them, else its summary line
        n=$(grep -cE '^[^:]+:[0-9]+:[PFE]:' "$log" 2>/dev/null || true)
        f=$(grep -cE '^[^:]+:[0-9]+:[FE]:' "$log" 2>/dev/null || true)
        n=${n:-0}; f=${f:-0}
        if ((n == 0)); then
            line=$(grep -m1 -E 'Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$log" 2>/dev/null || true)
            if [[ $line =~ Checks:\ ([0-9]+),\ Failures:\ ([0-9]+),\ Errors:\ ([0-9]+) ]]; then
                n=${BASH_REMATCH[1]}; f=$((BASH_REMATCH[2] + BASH_REMATCH[3]))
            fi
        fi
        if ((n > 0)); then
            sum_p=$((sum_p + n - f)); sum_f=$((sum_f + f))
            ((f == 0)) || FAILURES+=("$label: $prog: $f of $n checks failed")
            if ((f == 0)) && grep -qE '^:test-result: (FAIL|ERROR)' "$trs"; then
                sum_f=$((sum_f + 1)); FAILURES+=("$label: $prog failed after its checks (see $log)")
                tail -20 "$log" | sed 's/^/    /'
            fi
        elif grep -qE '^:test-result: PASS' "$trs"; then
            sum_p=$((sum_p + 1))
        elif grep -qE '^:test-result: (FAIL|ERROR|XPASS)' "$trs"; then
            sum_f=$((sum_f + 1)); FAILURES+=("$label: $prog failed (no Check results; see $log)")
            tail -20 "$log" | sed 's/^/    /'
        fi
    done
    if ((found == 0)) || { ((rc != 0)) && ((sum_f == 0)); }; then
        sum_f=$((sum_f + 1)); FAILURES+=("$label: make check failed (exit $rc)")
        tail -30 "$dir/check.out"
    fi
    echo "unit tests ($label): $sum_p passed, $sum_f failed"
    PASSED=$((PASSED + sum_p)); FAILED=$((FAILED + sum_f))
}

pytest_run() {  # pytest_run LABEL LOGFILE [pytest args...]: counts from pytest's closing line
    local label=$1 logf=$2; shift 2
    local rc=0 last p=0 f=0 e=0 sk=0
    say "integration tests ($label)"
    # shellcheck disable=SC2086
    timeout 1500 "$PY" -m pytest -p no:cacheprovider -rfEs ${PYTEST_ARGS:-} "$@" 2>&1 | tee "$logf" || rc=$?
    last=$(grep -E '(([0-9]+ (passed|failed|errors?|skipped|deselected|xfailed|xpassed|warnings?))|no tests ran)(, [0-9]+ [a-z]+)* in [0-9.]+s' "$logf" | tail -1 || true)
    [[ $last =~ ([0-9]+)\ passed ]] && p=${BASH_REMATCH[1]}
    [[ $last =~ ([0-9]+)\ failed ]] && f=${BASH_REMATCH[1]}
    [[ $last =~ ([0-9]+)\ error ]] && e=${BASH_REMATCH[1]}
    # a skipped test is a failure here: test.sh installed everything the tests use
    [[ $last =~ ([0-9]+)\ skipped ]] && sk=${BASH_REMATCH[1]}
    if ((sk)); then
        f=$((f + sk)); FAILURES+=("$label: $sk skipped (see SKIPPED in $logf)")
    fi
    if ((p + f + e == 0)) || { ((rc != 0)) && ((f + e == 0)); }; then
        f=$((f + 1)); FAILURES+=("$label: pytest exit $rc, ran no test or stopped: ${last:-no summary}")
    elif ((f + e)); then
        FAILURES+=("$label: $f failed, $e errors (log $logf)")
    fi
    PASSED=$((PASSED + p)); FAILED=$((FAILED + f + e))
}

# ------------------------------------------------------------------ 2. build + unit
install_test() {  # make install into a staging root: the module and the a2enmod files land
    local dest=$ROOT/build/destdir libexec sysconf
    rm -rf "$dest"
    libexec=$(apxs -q LIBEXECDIR); sysconf=$(apxs -q SYSCONFDIR)
    if make -C build install DESTDIR="$dest" >build/install.out 2>&1 \
        && [ -f "$dest$libexec/mod_tp_oauth.so" ] && [ ! -e "$dest$libexec/mod_tp_oauth.la" ] \
        && [ -f "$dest$sysconf/mods-available/tp_oauth.load" ] \
        && [ -f "$dest$sysconf/mods-available/tp_oauth.conf" ]; then
        PASSED=$((PASSED + 1)); echo "make install: 1 passed, 0 failed"
    else
        tail -20 build/install.out; find "$dest" -type f | head -20
        fail_step "make install (DESTDIR=$dest)"
    fi
}

symbols_test() {  # the module exports tp_oauth_module only and has no test-only hooks
    local so=build/src/.libs/mod_tp_oauth.so exported
    exported=$(nm -D --defined-only "$so" | awk '{ print $3 }' | sort | tr '\n' ' ')
    if [ "$exported" = "tp_oauth_module " ] && ! nm "$so" | grep -q crash_at \
        && grep -q "mod_tp_oauth/$(sed -n 's/^AC_INIT(\[mod_tp_oauth\], \[\([^]]*\)\].*/\1/p' configure.ac)" "$so"; then
        PASSED=$((PASSED + 1)); echo "module symbols: 1 passed, 0 failed"
    else
        fail_step "module symbols (exported: $exported; want tp_oauth_module only, no test hooks, the version)"
    fi
}

if build_tree build --enable-werror; then
    say "make install (staging root)"
    install_test
    say "module symbols"
    symbols_test
    say "source format (make format-check, .clang-format)"
    if make -C build format-check >build/format.out 2>&1; then
        PASSED=$((PASSED + 1)); echo "format-check: 1 passed, 0 failed"
    else
        cat build/format.out; fail_step "make format-check (run make format)"
    fi
    unit_tests build "build"
    # -------------------------------------------------------------- 3. integration
    if [ -f test/fakeidp/selftest.mjs ]; then
        say "fake IdP self-test"
        rc=0
        timeout 300 node --test test/fakeidp/selftest.mjs >build/fakeidp-selftest.out 2>&1 || rc=$?
        p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' build/fakeidp-selftest.out | tail -1)
        f=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' build/fakeidp-selftest.out | tail -1)
        p=${p:-0}; f=${f:-0}
        if ((rc != 0 && f == 0)); then f=1; fi
        ((f == 0)) || { FAILURES+=("fakeidp selftest: $f failed"); tail -40 build/fakeidp-selftest.out; }
        echo "fake IdP self-test: $p passed, $f failed"
        PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
    fi
    TPO_MODULE=$ROOT/build/src/.libs/mod_tp_oauth.so pytest_run "integration" \
        "$ROOT/build/pytest.log" test/integration
else
    fail_step "build (./build)"
fi

# ------------------------------------------------------------------ 3a. distcheck
# make distcheck as a normal user: the tarball builds, passes its unit tests, installs
# into a staging prefix and uninstalls without leaving files behind.
DIST_USER=${TPO_DIST_USER:-tpobuild}
distcheck_test() {
    local dir rc=0 as=()
    if [ "$(id -u)" = 0 ]; then   # root: as $DIST_USER (created when missing)
        if ! id "$DIST_USER" >/dev/null 2>&1; then
            useradd --system --create-home --shell /usr/sbin/nologin "$DIST_USER" || return 1
        fi
        as=(runuser -u "$DIST_USER" --)
    fi
    dir=$("${as[@]}" mktemp -d /tmp/tpo-distcheck.XXXXXX) || return 1
    "${as[@]}" sh -c "cd '$dir' && '$ROOT/configure' >configure.out 2>&1 \
        && CK_DEFAULT_TIMEOUT=60 timeout 1800 make distcheck >distcheck.out 2>&1" || rc=$?
    cp "$dir/distcheck.out" build/distcheck.out 2>/dev/null || cp "$dir/configure.out" build/distcheck.out
    if ((rc == 0)) && grep -q "archives ready for distribution" build/distcheck.out; then
        rm -rf "$dir"
        return 0
    fi
    tail -40 build/distcheck.out
    return 1
}
if [ -f build/src/.libs/mod_tp_oauth.so ]; then
    say "make distcheck (as a normal user)"
    if distcheck_test; then
        PASSED=$((PASSED + 1)); echo "make distcheck: 1 passed, 0 failed"
    else
        fail_step "make distcheck as a normal user (see build/distcheck.out)"
    fi
fi

# ------------------------------------------------------------------ 3b. Debian package
# dpkg-buildpackage -b on a clean copy, lintian without errors, install into the system's
# Apache (a2enmod, apachectl configtest), one real login through the packaged module,
# then purge: no module, no a2enmod files left. Root only (it changes the system).
PKG=libapache2-mod-tp-oauth
PKG_SO=/usr/lib/apache2/modules/mod_tp_oauth.so
package_test() {
    local tmp log=$ROOT/build/package.out deb f
    tmp=$(mktemp -d /tmp/tpo-deb.XXXXXX)
    mkdir "$tmp/src"
    tar -C "$ROOT" --exclude=./build --exclude=./build-asan --exclude=node_modules \
        --exclude=./.node --exclude=./.git --exclude=./run --exclude=./bench/results -cf - . \
        | tar -C "$tmp/src" -xf -
    echo "dpkg-buildpackage -us -uc -b in $tmp/src"
    (cd "$tmp/src" && timeout 1800 dpkg-buildpackage -us -uc -b) >"$log" 2>&1 \
        || { tail -30 "$log"; echo "dpkg-buildpackage failed"; return 1; }
    deb=$(ls "$tmp"/${PKG}_*.deb)
    echo "lintian (errors fail):"
    id "$DIST_USER" >/dev/null 2>&1 \
        || useradd --system --create-home --shell /usr/sbin/nologin "$DIST_USER" || return 1
    chmod -R a+rX "$tmp"
    timeout 600 runuser -u "$DIST_USER" -- lintian --fail-on error "$tmp"/${PKG}_*.changes \
        | sed 's/^/  lintian: /' || { echo "lintian reported errors"; return 1; }
    echo "  lintian: done"
    if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q "install ok installed"; then
        echo "$PKG is installed already: not touching the system's copy"; return 1
    fi
    [ ! -e "$PKG_SO" ] || { echo "$PKG_SO exists without the package: not overwriting it"; return 1; }
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q --no-install-recommends "$deb" >>"$log" 2>&1 \
        || { tail -20 "$log"; echo "installing $deb failed"; return 1; }
    local ok=1
    a2enmod tp_oauth || ok=0
    [ -e /etc/apache2/mods-enabled/tp_oauth.load ] || { echo "a2enmod: no mods-enabled/tp_oauth.load"; ok=0; }
    apachectl configtest || { echo "apachectl configtest failed"; ok=0; }
    apachectl -t -D DUMP_MODULES 2>/dev/null | grep -q "tp_oauth_module" \
        || { echo "the system's Apache does not load tp_oauth_module"; ok=0; }
    if ((ok)); then
        TPO_MODULE=$PKG_SO timeout 600 "$PY" -m pytest -p no:cacheprovider -q -rfEs \
            test/integration/test_login.py -k "test_login_shows_user_and_claims or test_version_logged" \
            >"$ROOT/build/package-login.log" 2>&1 || ok=0
        tail -3 "$ROOT/build/package-login.log"
        grep -qE '^2 passed' "$ROOT/build/package-login.log" || { echo "login through $PKG_SO failed"; ok=0; }
    fi
    a2dismod -q tp_oauth >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get purge -y -q "$PKG" >>"$log" 2>&1 \
        || { echo "apt-get purge $PKG failed"; ok=0; }
    for f in "$PKG_SO" /etc/apache2/mods-available/tp_oauth.load /etc/apache2/mods-available/tp_oauth.conf \
        /etc/apache2/mods-enabled/tp_oauth.load /etc/apache2/mods-enabled/tp_oauth.conf; do
        [ ! -e "$f" ] || { echo "left after purge: $f"; ok=0; }
    done
    if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q installed; then echo "$PKG still installed"; ok=0; fi
    apachectl configtest >/dev/null 2>&1 || { echo "apachectl configtest fails after the purge"; ok=0; }
    ((ok)) && rm -rf "$tmp"
    ((ok))
}
if [ "$(id -u)" = 0 ] && [ "${TPO_SKIP_PACKAGE:-}" != 1 ] && [ -f build/src/.libs/mod_tp_oauth.so ]; then
    say "Debian package: build, lintian, install, a2enmod, configtest, login, purge"
    if package_test; then
        PASSED=$((PASSED + 1)); echo "Debian package: 1 passed, 0 failed"
    else
        fail_step "Debian package $PKG (see build/package.out)"
    fi
fi

# ------------------------------------------------------------------ 3c. bench smoke
# The benchmark is not part of pass/fail on its numbers (machines are noisy),
# but a short run of it is, so that it cannot rot: it fails only when a server
# does not start or a configuration does not serve the real content.
if [ "${TPO_SKIP_BENCH:-}" != 1 ] && [ -f build/src/.libs/mod_tp_oauth.so ]; then
    say "benchmark smoke run (bench/run --smoke)"
    rc=0
    TPO_MODULE=$ROOT/build/src/.libs/mod_tp_oauth.so timeout 600 bench/run --smoke \
        --json "$ROOT/build/bench-smoke.json" >build/bench-smoke.out 2>&1 || rc=$?
    tail -40 build/bench-smoke.out
    if ((rc == 0)); then
        PASSED=$((PASSED + 1)); echo "bench smoke: 1 passed, 0 failed"
    else
        fail_step "bench/run --smoke (exit $rc, see build/bench-smoke.out)"
    fi
fi

# ------------------------------------------------------------------ 3c. fuzz
# Every libFuzzer target (fuzz/) for a short run on its seed corpus: one pass
# per target; a crash, leak, UBSan report or oracle failure is a failure.
if [ "${TPO_SKIP_FUZZ:-}" != 1 ]; then
    say "fuzz targets (fuzz/run -t ${TPO_FUZZ_SECONDS:-10} -j 2)"
    rc=0
    mkdir -p build
    timeout 600 fuzz/run -t "${TPO_FUZZ_SECONDS:-10}" -j 2 >build/fuzz.out 2>&1 || rc=$?
    cat build/fuzz.out
    p=$(grep -c ": ok," build/fuzz.out || true)
    f=$(sed -n 's/^fuzz: [0-9]* passed, \([0-9]*\) failed$/\1/p' build/fuzz.out | tail -1)
    f=${f:-1}
    if ((rc != 0 && f == 0)); then f=1; fi
    ((f == 0)) || FAILURES+=("fuzz: $f failed (see fuzz/build/logs/)")
    echo "fuzz: $p passed, $f failed"
    PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
fi

# ------------------------------------------------------------------ 4. ASan
if [ "${TPO_SKIP_ASAN:-}" = 1 ]; then
    say "ASan pass skipped (TPO_SKIP_ASAN=1)"
elif build_tree build-asan --enable-asan --enable-werror; then
    unit_tests build-asan "asan"
    libasan=$(gcc -print-file-name=libasan.so)
    TPO_MODULE=$ROOT/build-asan/src/.libs/mod_tp_oauth.so TPO_HTTPD_PRELOAD=$libasan \
        pytest_run "integration, asan" "$ROOT/build-asan/pytest.log" test/integration \
        --ignore=test/integration/test_browser.py -m "not slow"
else
    fail_step "build (./build-asan --enable-asan)"
fi

DONE=1
