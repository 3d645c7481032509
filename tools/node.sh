# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
# tools/node.sh: sourced by test.sh, demo.sh and bench/run (bash).
#
# tpo_ensure_node ROOT
#   A Node.js >= 20 for the test IdPs: oidc-provider 9 calls URL.parse, which
#   Node.js 18 (Debian 12's own nodejs) lacks. When the node in PATH is older,
#   the `node` package from the npm registry (it ships the binary) is installed
#   with the system's npm into ROOT/.node, once. Exports TPO_NODE_BIN (read by
#   test/integration/tpo_harness.py) and puts that node first in PATH, so that
#   npm, `node --test` and the tests' own node calls use it too.
TPO_NODE_MAJOR=${TPO_NODE_MAJOR:-20}

tpo_node_major() {  # tpo_node_major NODE: the major version, 0 when it does not run
    "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0
}

tpo_ensure_node() {
    local root=$1 dir=$1/.node sys
    sys=$(command -v node || true)
    if [ -n "$sys" ] && [ "$(tpo_node_major "$sys")" -ge "$TPO_NODE_MAJOR" ]; then
        export TPO_NODE_BIN=$sys
        return 0
    fi
    if [ "$(tpo_node_major "$dir/node_modules/.bin/node")" -lt "$TPO_NODE_MAJOR" ]; then
        echo "node: ${sys:-no node} is $( [ -n "$sys" ] && "$sys" --version) - installing node@$TPO_NODE_MAJOR from the npm registry into $dir"
        mkdir -p "$dir"
        timeout 900 npm install --prefix "$dir" --no-audit --no-fund --no-save --loglevel=error \
            "node@$TPO_NODE_MAJOR" || return 1
    fi
    [ "$(tpo_node_major "$dir/node_modules/.bin/node")" -ge "$TPO_NODE_MAJOR" ] || return 1
    export TPO_NODE_BIN=$dir/node_modules/.bin/node
    export PATH="$dir/node_modules/.bin:$PATH"
}
