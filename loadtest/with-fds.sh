#!/bin/sh
# Tens of thousands of sockets need as many file descriptors: raise the soft limit to the hard one
# (root may raise both) before starting the TypeScript entry point given as $1, with the other args.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec npx tsx "$@"
