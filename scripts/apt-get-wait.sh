#!/usr/bin/env bash
# apt-get "$@", waiting for another apt or dpkg (an automatic update at boot,
# say, or a second terminal) to let go of its lock instead of failing at once.
#
# apt-get fails when a lock is held: /var/lib/apt/lists/lock (apt-get update)
# or dpkg's (apt-get install). `-o DPkg::Lock::Timeout=N` makes apt wait for
# dpkg's lock, but apt-get update ignores it (apt 2.6: it fails at once), so
# this retries every 2 s while apt-get fails on a lock, for up to
# APT_LOCK_WAIT seconds (default 300), saying so once. Failing to take a lock
# changes nothing, so a retry is safe. Exits with apt-get's status: 0 once it
# succeeded; its last failure's when the wait is over or the failure is not
# a lock. apt-get's output goes to stderr, after each attempt.
set -u

wait_s=${APT_LOCK_WAIT:-300}
deadline=$((SECONDS + wait_s))
log=$(mktemp)
trap 'rm -f "$log"' EXIT
said=
while :; do
    rc=0
    apt-get "$@" >"$log" 2>&1 || rc=$?
    if [ "$rc" != 0 ] && grep -q "Could not get lock" "$log" && [ "$SECONDS" -lt "$deadline" ]; then
        if [ -z "$said" ]; then
            grep "Could not get lock" "$log" | head -n 1 >&2
            echo "setup: another apt or dpkg is running; waiting for it (up to ${wait_s}s)" >&2
            said=1
        fi
        sleep 2
        continue
    fi
    cat "$log" >&2
    if [ -n "$said" ] && [ "$rc" = 0 ]; then
        echo "setup: got the lock; apt-get $1 done" >&2
    elif [ -n "$said" ] && grep -q "Could not get lock" "$log"; then
        echo "setup: gave up after ${wait_s}s (APT_LOCK_WAIT=N waits longer)" >&2
    fi
    exit "$rc"
done
