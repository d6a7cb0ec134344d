#!/bin/sh
# Misbehaves on purpose so executors can be tested against a real engine.
#   exit CODE     print to both streams, exit with CODE
#   sleep SECS    sleep (deadline tests)
#   oom           allocate memory until the kernel kills the process
#   selfkill      a child shell SIGKILLs itself and its status is passed on: exit 137 not from the memory limit
#                 (PID 1 of the container cannot SIGKILL itself: its namespace ignores the signal)
#   write MB      write MB megabytes to /outputs/blob (output cap tests)
#   flood BYTES   write BYTES bytes to stdout (stream cap tests)
#   connect HOST:PORT  open a TCP connection (network sandbox tests); exit 0 if it connected
#   rootfs        try to write to / (read-only root tests)
#   touch PATH    try to create the file PATH; exit 0 if it could, 5 if not
#   id            print uid and gid
mode="$1"; arg="$2"
case "$mode" in
  exit) echo "stress: exiting with $arg"; echo "stress: failing on purpose with $arg" >&2; exit "$arg" ;;
  sleep) exec sleep "$arg" ;;
  oom) exec awk 'BEGIN { s = "0123456789abcdef"; while (1) { s = s s; t[n++] = s } }' ;;
  selfkill) echo "stress: killing myself"; sh -c 'kill -9 $$'; exit $? ;;
  write) dd if=/dev/zero of=/outputs/blob bs=1048576 count="$arg" 2>/dev/null; echo "wrote $arg MB" ;;
  flood) head -c "$arg" /dev/zero | tr '\0' 'x' ;;
  connect) if echo ping | nc -w 2 "${arg%:*}" "${arg##*:}" >/dev/null 2>&1; then echo connected; exit 0; else echo "stress: connect to $arg failed" >&2; exit 7; fi ;;
  rootfs) if echo x > /written 2>/dev/null; then echo "root fs is writable"; exit 0; else echo "stress: root fs is read-only" >&2; exit 4; fi ;;
  touch) if touch "$arg" 2>/dev/null; then echo "created $arg"; exit 0; else echo "stress: cannot create $arg" >&2; exit 5; fi ;;
  id) echo "uid=$(id -u) gid=$(id -g)" ;;
  *) echo "stress: unknown mode \"$mode\"" >&2; exit 64 ;;
esac
