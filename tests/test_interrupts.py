"""gpunet.interrupts: a Ctrl-C (SIGINT) inside a critical section is delivered when it ends."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from gpunet import interrupts
from gpunet.interrupts import defer_interrupts, handle_interrupts


@pytest.fixture(autouse=True)
def _sigint_restored():
    """Whatever a test does, the next one starts from the handler this one found."""
    before = signal.getsignal(signal.SIGINT)
    yield before
    assert signal.getsignal(signal.SIGINT) is before, "the SIGINT handler was not restored"
    signal.signal(signal.SIGINT, before)


def test_sigint_inside_is_raised_when_the_section_ends():
    reached = []
    with pytest.raises(KeyboardInterrupt):
        with defer_interrupts():
            signal.raise_signal(signal.SIGINT)
            reached.append("after the signal")  # the section runs to its end
    assert reached == ["after the signal"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_without_a_signal_nothing_happens_and_the_handler_is_restored(_sigint_restored):
    with defer_interrupts():
        assert signal.getsignal(signal.SIGINT) is not _sigint_restored  # a recording handler is in place
    assert signal.getsignal(signal.SIGINT) is _sigint_restored


def test_nested_sections_deliver_at_the_outermost_end():
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with defer_interrupts():
            with defer_interrupts():
                signal.raise_signal(signal.SIGINT)
                steps.append("inner body")
            steps.append("after inner")  # the inner end does not raise: the outer section is still open
            with defer_interrupts():
                steps.append("second inner")
    assert steps == ["inner body", "after inner", "second inner"]


def test_a_custom_previous_handler_is_called_after_the_section_once_per_signal():
    calls = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: calls.append(signum))
    try:
        with defer_interrupts():
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGINT)
            assert calls == []
        assert calls == [signal.SIGINT, signal.SIGINT]
    finally:
        signal.signal(signal.SIGINT, previous)


def test_an_ignored_sigint_stays_ignored():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with defer_interrupts():
            signal.raise_signal(signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_an_exception_in_the_section_is_kept_as_the_interrupts_context():
    with pytest.raises(KeyboardInterrupt) as info:
        with defer_interrupts():
            signal.raise_signal(signal.SIGINT)
            raise ValueError("the body failed")
    assert isinstance(info.value.__context__, ValueError)


def test_default_action_sigint_ends_the_process_after_the_section(tmp_path):
    script = textwrap.dedent(
        """
        import signal
        from gpunet.interrupts import defer_interrupts
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # e.g. a tool that wants Ctrl-C to kill it outright
        with defer_interrupts():
            signal.raise_signal(signal.SIGINT)
            print("section finished", flush=True)
        print("not reached", flush=True)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "GPUNET_BACKEND": "numpy"})
    assert proc.returncode == -signal.SIGINT, proc.stderr
    assert proc.stdout == "section finished\n"
    assert proc.stderr == "", "it died of the signal, not of a KeyboardInterrupt"


def test_outside_the_main_thread_it_does_nothing(_sigint_restored):
    seen, errors = [], []

    def work():
        try:
            with handle_interrupts(), defer_interrupts():
                with defer_interrupts():
                    seen.append(signal.getsignal(signal.SIGINT))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert errors == [] and seen == [_sigint_restored]


def test_handle_interrupts_installs_once_and_sections_inside_make_no_system_call(monkeypatch, _sigint_restored):
    with handle_interrupts():
        installed = signal.getsignal(signal.SIGINT)
        assert installed is not _sigint_restored
        calls = []
        real_signal = signal.signal
        monkeypatch.setattr(interrupts.signal, "signal", lambda *a: calls.append(a) or real_signal(*a))
        steps = []
        with pytest.raises(KeyboardInterrupt):
            for step in range(5):
                with defer_interrupts():
                    if step == 2:
                        signal.raise_signal(signal.SIGINT)
                    steps.append(step)  # step 2 completes before the interrupt is delivered
        assert steps == [0, 1, 2] and calls == []
        assert signal.getsignal(signal.SIGINT) is installed
        monkeypatch.undo()
        # between sections Ctrl-C acts at once, as without gpunet
        after = []
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
            after.append("not reached")
        assert after == []
    assert signal.getsignal(signal.SIGINT) is _sigint_restored


def test_handle_interrupts_nests_and_restores_at_the_outermost_end(_sigint_restored):
    with handle_interrupts():
        installed = signal.getsignal(signal.SIGINT)
        with handle_interrupts():
            assert signal.getsignal(signal.SIGINT) is installed
        assert signal.getsignal(signal.SIGINT) is installed
    assert signal.getsignal(signal.SIGINT) is _sigint_restored


class _RaisesInDel:
    def __del__(self):
        raise KeyboardInterrupt  # what a Ctrl-C landing in a __del__ or weakref callback does


def test_a_ctrl_c_python_drops_just_after_a_section_is_delivered_by_the_next_one(monkeypatch):
    dropped = []
    monkeypatch.setattr(sys, "unraisablehook", dropped.append)  # instead of printing "Exception ignored"
    with defer_interrupts():
        obj = _RaisesInDel()  # e.g. an h5py object the save used, freed after the save
    del obj  # Python reports the KeyboardInterrupt and drops it
    assert len(dropped) == 1 and dropped[0].exc_type is KeyboardInterrupt  # still reported as usual
    started = []
    with pytest.raises(KeyboardInterrupt):
        with defer_interrupts():
            started.append("the next section")
    assert started == []  # delivered before the next section starts
    with defer_interrupts():  # delivered once
        pass


def test_a_ctrl_c_dropped_between_steps_inside_handle_interrupts_is_delivered(monkeypatch):
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: None)
    monkeypatch.setattr(interrupts, "WATCH_AFTER", 0.0)
    steps = []
    with handle_interrupts():
        with pytest.raises(KeyboardInterrupt):
            for step in range(3):
                with defer_interrupts():
                    steps.append(step)
                if step == 0:
                    _RaisesInDel()  # freed at once: dropped between two steps
    assert steps == [0]


def test_a_ctrl_c_dropped_long_after_any_section_is_left_to_python(monkeypatch):
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: None)
    monkeypatch.setattr(interrupts, "WATCH_AFTER", 0.0)
    with defer_interrupts():
        pass
    _RaisesInDel()  # nothing of gpunet's is running: not gpunet's business
    try:
        with defer_interrupts():
            pass
    except KeyboardInterrupt:
        pytest.fail("a Ctrl-C dropped outside any section's watch was raised later, by surprise")


def _per_section_microseconds(n=20000):
    start = time.perf_counter()
    for _ in range(n):
        with defer_interrupts():
            pass
    return (time.perf_counter() - start) / n * 1e6


@pytest.mark.slow
def test_per_step_cost_inside_handle_interrupts_is_about_a_microsecond():
    with handle_interrupts():
        cost = min(_per_section_microseconds() for _ in range(5))
    assert cost < 5, f"{cost:.2f} us per section"
