#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
# demo.sh: mod_tp_oauth protecting a CGI app, with a local OpenID Provider.
#
#   Apache:  http://127.0.0.1:8080/app/whoami.cgi   (server root under ./run/demo)
#   IdP:     http://127.0.0.1:9000                  (npm oidc-provider; any login, any password)
#
# Installs what is missing (Debian packages, npm ci), builds the module out of
# tree in ./build, then runs both servers in the foreground until Ctrl-C.
# Ports: DEMO_HTTP_PORT (8080), DEMO_IDP_PORT (9000).
set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")"
ROOT=$PWD
PY=/usr/bin/python3
HTTP_PORT=${DEMO_HTTP_PORT:-8080}
IDP_PORT=${DEMO_IDP_PORT:-9000}

PKGS=(apache2 apache2-dev libcurl4-openssl-dev libjansson-dev libssl-dev libapr1-dev
      libaprutil1-dev pkg-config autoconf automake libtool make gcc python3)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
    echo "demo: installing ${missing[*]}"
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -q
    $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# a Node.js >= 20 for oidc-provider (from the npm registry when the system's is older)
. "$ROOT/tools/node.sh"
tpo_ensure_node "$ROOT" || { echo "$0: no Node.js >= $TPO_NODE_MAJOR" >&2; exit 2; }

if [ ! -f test/idp/node_modules/.package-lock.json ] \
    || [ test/idp/package-lock.json -nt test/idp/node_modules/.package-lock.json ]; then
    echo "demo: npm ci in test/idp"
    (cd test/idp && timeout 600 npm ci --no-audit --no-fund --loglevel=error)
fi

if [ ! -x configure ]; then
    echo "demo: autoreconf -fi"
    autoreconf -fi
fi
mkdir -p build
if [ ! -f build/Makefile ]; then
    echo "demo: configure (in ./build)"
    (cd build && "$ROOT/configure" >configure.out 2>&1) || { tail -30 build/configure.out; exit 1; }
fi
echo "demo: make (in ./build)"
make -C build -j2 >build/make.out 2>&1 || { tail -40 build/make.out; exit 1; }

exec "$PY" test/integration/tpo_harness.py demo \
    --module "$ROOT/build/src/.libs/mod_tp_oauth.so" --root "$ROOT/run/demo" \
    --http-port "$HTTP_PORT" --idp-port "$IDP_PORT"
