#!/bin/sh
exec node "$(dirname "$0")/solc-wrapper.cjs" "$@"
