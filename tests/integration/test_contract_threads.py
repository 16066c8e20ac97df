"""Validation from many threads at once, right from the start of a process.

libxml2 initialises its schema types on the first compilation and breaks
(wrong answers, or a crash) if threads compile or parse meanwhile. Each child
process here starts eight threads that validate at once, with no warm-up; a
broken schema shows as a wrong answer, a dead process or a hung one.
"""

from __future__ import annotations

import subprocess
import sys

from tests.support import EXAMPLES

CHILD = r"""
import sys, threading
from udb.soap import envelope
from udb.soap.faults import InvalidRequest
from udb.soap.version import SoapVersion

good = open(sys.argv[1], "rb").read()
bad = good.replace(b"<udb:CPRNr>1503084232", b"<udb:CPRNr>15030842")
failures = []
start = threading.Barrier(8)

def work():
    start.wait()
    for i in range(40):
        try:
            envelope.read(good if i % 2 else bad, SoapVersion.SOAP12)
            if not i % 2:
                failures.append("invalid request accepted")
        except InvalidRequest as exc:
            if i % 2 or "element CPRNr" not in str(exc):
                failures.append(str(exc)[:80])

threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print(len(failures), failures[:1])
sys.exit(1 if failures else 0)
"""


def test_validation_from_many_threads_in_fresh_processes() -> None:
    example = str(EXAMPLES / "request.xml")
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, example], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(24)
    ]
    try:
        # generous: a deadlock hangs for ever, while 24 processes on a busy 2-core machine
        # may take a while
        results = [(c.communicate(timeout=120), c.returncode) for c in children]
    finally:
        for child in children:  # a hung child (a libxml2 deadlock) must not outlive the test
            if child.poll() is None:
                child.kill()
                child.communicate()
    broken = [r for r in results if r[1] != 0]
    assert not broken, broken[0]
