"""A rehearsal of a two-machine job on one machine: two "hosts" made of Linux namespaces.

Each host is a network namespace with a UTS namespace of its own (its own host name, so Open MPI
takes the two for two nodes: with one name it would take them for one machine and look for
shared memory between them). A veth pair joins them on a private /24 that exists only inside the
two namespaces; nothing outside them is touched. Open MPI's ``mpirun`` runs on the first host and
starts the second host's daemon through a launch agent (``--mca plm_rsh_agent``) that enters the
other namespace where ``ssh`` would log in to the other machine; the ranks talk over TCP only
(``--mca btl tcp,self``, both TCP transports restricted to the veth subnet)::

    with TwoHosts() as hosts:                       # needs root (network namespaces)
        result = hosts.mpirun([sys.executable, "train.py"], env=..., timeout=60)

    python tests/distributed/two_hosts.py -- python train.py     # the same, by hand

Everything is made with names of its own (the process id and a random suffix), so that runs in
parallel do not meet, and taken down on exit, failure and timeout alike: the processes left in
either namespace are killed, the namespaces (and with them the veth pair) deleted, the host-name
files unmounted. :func:`unavailable` says why the rehearsal cannot run here (or None).
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

SUBNET = "10.231.25"  # lives only inside the two namespaces, so parallel rehearsals may share it
TOOLS = ("ip", "nsenter", "unshare", "mount", "umount")

_AGENT = """#!/bin/sh
# Open MPI's launch agent for the rehearsal: called as ssh would be, [options] HOST COMMAND...;
# runs COMMAND in HOST's namespaces (network and host name) instead of logging in.
while [ $# -gt 0 ]; do
  case "$1" in
    -*) shift ;;
    *) break ;;
  esac
done
host="$1"; shift
case "$host" in
{cases}
  *) echo "two_hosts agent: unknown host $host" >&2; exit 255 ;;
esac
exec ip netns exec "$ns" nsenter --uts="$uts" sh -c "$*"
"""


def _run(*command, check=True) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, check=check, timeout=30)


def unavailable() -> str | None:
    """Why two namespaced hosts cannot be made here, or None."""
    if not sys.platform.startswith("linux"):
        return "network namespaces are Linux's"
    if os.geteuid() != 0:
        return "making network namespaces needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN)"
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return f"missing tools: {', '.join(missing)} (iproute2, util-linux)"
    name = f"gpunet-probe-{os.getpid()}-{secrets.token_hex(2)}"
    made = _run("ip", "netns", "add", name, check=False)
    if made.returncode != 0:
        return f"'ip netns add' failed here: {made.stderr.strip()}"
    _run("ip", "netns", "del", name, check=False)
    return None


class TwoHosts:
    """Two namespaced hosts joined by a veth pair (see the module docstring); a context manager.

    ``hosts.addresses``: the two addresses (the first host's first); ``hosts.names``: their host
    names; ``hosts.subnet``: the veth subnet in CIDR notation."""

    def __init__(self, subnet: str = SUBNET):
        tag = f"{os.getpid() % 100000}{secrets.token_hex(2)}"
        self.tag = tag
        self.namespaces = [f"gpunet-{tag}-a", f"gpunet-{tag}-b"]
        self.names = [f"node-{tag}-a", f"node-{tag}-b"]
        self.links = [f"gn{tag}a", f"gn{tag}b"]  # interface names: at most 15 characters
        self.addresses = [f"{subnet}.1", f"{subnet}.2"]
        self.subnet = f"{subnet}.0/24"
        self.folder = None
        self.uts = []
        self._made_namespaces = []

    # -- making and taking down -------------------------------------------------------------
    def __enter__(self) -> TwoHosts:
        try:
            self._make()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _make(self) -> None:
        self.folder = tempfile.mkdtemp(prefix=f"gpunet-twohosts-{self.tag}-")
        for ns in self.namespaces:
            _run("ip", "netns", "add", ns)
            self._made_namespaces.append(ns)
        a, b = self.links
        _run("ip", "link", "add", a, "type", "veth", "peer", "name", b)  # made here, moved at once
        for ns, link, address, name in zip(self.namespaces, self.links, self.addresses, self.names):
            _run("ip", "link", "set", link, "netns", ns)
            _run("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", link)
            _run("ip", "-n", ns, "link", "set", link, "up")
            _run("ip", "-n", ns, "link", "set", "lo", "up")
            uts = os.path.join(self.folder, f"uts-{name}")
            open(uts, "w").close()
            _run("unshare", f"--uts={uts}", "hostname", name)  # a persistent UTS namespace, named
            self.uts.append(uts)
        cases = "\n".join(f"  {address}|{name}) ns={ns}; uts={uts} ;;" for address, name, ns, uts
                          in zip(self.addresses, self.names, self.namespaces, self.uts))
        self.agent = os.path.join(self.folder, "agent.sh")
        with open(self.agent, "w") as f:
            f.write(_AGENT.format(cases=cases))
        os.chmod(self.agent, os.stat(self.agent).st_mode | stat.S_IXUSR)
        self.hostfile = os.path.join(self.folder, "hosts")
        with open(self.hostfile, "w") as f:
            f.write("".join(f"{address} slots=1\n" for address in self.addresses))

    def pids(self) -> list[int]:
        """The processes running in either namespace."""
        found = []
        for ns in self._made_namespaces:
            listed = _run("ip", "netns", "pids", ns, check=False)
            found += [int(p) for p in listed.stdout.split()]
        return found

    def close(self) -> None:
        """Kill what runs in the namespaces, delete them (the veth pair goes with them), unmount
        the host names and remove the folder. Safe to call twice, and after a partial set-up."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = self.pids()
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 3
            while pids and self.pids() and time.monotonic() < deadline:
                time.sleep(0.1)
        for ns in self._made_namespaces:
            _run("ip", "netns", "del", ns, check=False)
        self._made_namespaces = []
        for link in self.links:  # only if the set-up stopped before moving it into a namespace
            if _run("ip", "link", "show", link, check=False).returncode == 0:
                _run("ip", "link", "del", link, check=False)
        for uts in self.uts:
            _run("umount", uts, check=False)
        self.uts = []
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    # -- running -----------------------------------------------------------------------------
    def transport_environment(self) -> dict:
        """The settings of :meth:`mpirun_command`'s ``--mca`` options as environment variables
        (Open MPI's for the ranks' transport, PRRTE's for its daemons and the launch agent)."""
        return {"OMPI_MCA_btl": "tcp,self", "OMPI_MCA_btl_tcp_if_include": self.subnet,
                "PRTE_MCA_oob_tcp_if_include": self.subnet, "PRTE_MCA_plm_ssh_agent": self.agent}

    def mpirun_command(self, command, ranks: int = 2, via_environment: bool = False) -> list[str]:
        """The command that runs ``command`` as ``ranks`` ranks, one per host in turn, from the
        first host, over TCP on the veth subnet only: chosen by ``--mca`` options, or (with
        ``via_environment``) left to :meth:`transport_environment`'s variables."""
        mpirun = os.path.join(os.path.dirname(sys.executable), "mpirun")
        if not os.path.exists(mpirun):
            mpirun = shutil.which("mpirun") or "mpirun"
        options = [] if via_environment else [
            "--mca", "plm_rsh_agent", self.agent, "--mca", "btl", "tcp,self",
            "--mca", "btl_tcp_if_include", self.subnet, "--mca", "oob_tcp_if_include", self.subnet]
        return ["ip", "netns", "exec", self.namespaces[0], "nsenter", f"--uts={self.uts[0]}",
                # --bind-to none: each host would pin its rank to its first core, the same core
                # of this one machine for both, and two ranks polling on one core wait a timer
                # tick (4 ms) for each other at every message
                mpirun, "-n", str(ranks), "--hostfile", self.hostfile, "--map-by", "node", "--bind-to", "none",
                *options, *map(str, command)]

    def mpirun(self, command, ranks: int = 2, env=None, timeout: float = 90, cwd=None,
               via_environment: bool = False) -> subprocess.CompletedProcess:
        """Run :meth:`mpirun_command` (in ``env``, plus :meth:`transport_environment` with
        ``via_environment``); on a timeout everything in the namespaces is killed and
        ``subprocess.TimeoutExpired`` raised, holding what the job printed."""
        if via_environment:
            env = {**(os.environ if env is None else env), **self.transport_environment()}
        process = subprocess.Popen(self.mpirun_command(command, ranks, via_environment), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            for pid in [process.pid, *self.pids()]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            exc.output, exc.stderr = process.communicate()  # what it printed before, for the report
            raise
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def main(argv=None) -> int:
    """``python two_hosts.py [--ranks N] -- COMMAND...``: run COMMAND across two namespaced hosts."""
    argv = sys.argv[1:] if argv is None else argv
    ranks = 2
    if argv[:1] == ["--ranks"]:
        ranks, argv = int(argv[1]), argv[2:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    reason = unavailable()
    if reason:
        print(f"two_hosts: cannot run here: {reason}", file=sys.stderr)
        return 2
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    with TwoHosts() as hosts:
        print("two_hosts: " + shlex.join(hosts.mpirun_command(argv, ranks)), file=sys.stderr)
        result = hosts.mpirun(argv, ranks, env=env, timeout=600)
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        return result.returncode


if __name__ == "__main__":
    sys.exit(main())
