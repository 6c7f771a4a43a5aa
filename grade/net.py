"""Part I: the network (next). Empty for now: the driver's and the stack's
tests go here, as the other parts' do. A test boots QEMU and matches its
console, for example:

    part("Part I: the network")

    @test(10, "nettest: a packet sent and received through the driver")
    def _():
        r = fs_run("nettest", qemuextra="-netdev user,id=n -device e1000,netdev=n")
        r.match("nettest: OK$", no=[KERNEL_PANIC, USER_PANIC, ".*FAILED"])
        check_fs_clients_freed(r)

(see gradelib's docstring for the harness, checks.py for the shared checks).
"""

from .gradelib import *  # noqa: F401,F403 (the harness, as MIT's grade-labN)
from .checks import *  # noqa: F401,F403
