"""Part H: the file server as its clients' root of trust (issue 19): a
reply only from the env asked, no client waited on, file ids only for
their holders, limits per env."""

import re

from .gradelib import *  # noqa: F401,F403 (the harness, as MIT's grade-labN)
from .checks import *  # noqa: F401,F403

part("Part H: servers a program can trust")

FSTRUST_CASES = ["forge", "dead", "foreign", "starve"]


def fstrust_test(cpus):
    """fstrust's attacks (user/test/src/bin/fstrust.rs): forged replies from a
    sibling watching UENVS, a server dying under its callers, another env's
    file ids through every descriptor of ours, clients that never take
    their replies beside an honest one."""

    def fn():
        r = fs_run("fstrust", cpus=cpus, timeout=90)
        r.match(*["fstrust: %s: OK" % c for c in FSTRUST_CASES] + ["fstrust: done$"],
                ordered=True, no=[".*FAILED", ".*succeeded$", KERNEL_PANIC, USER_PANIC,
                                  ENV + "unhandled page fault", ENV + "user_mem_check", "fs: "])
        r.match(r"fstrust: forge: OK \(victim seen waiting [1-9]\d* times, 0 forgeries taken")
        check_fs_clients_freed(r)

    name = "fstrust: forged replies, dead servers, foreign file ids, starvers (%s)" % cpus_label(cpus)
    fn.__name__ = "test_fstrust_%d" % cpus
    test(10, name)(fn)


fstrust_test(1)
fstrust_test(4)
