"""Record pods over their links into a session file, line by line as they arrive."""

from __future__ import annotations

import time

from calfwalk import firmware
from calfwalk.link.transport import LineSplitter, LinkLost, wait_for
from calfwalk.files.protocol import StreamChecker, event_from_line
from calfwalk.files.session import SessionWriter


class PodLink:
    """One pod: its transport, line splitter and live stream checker."""

    def __init__(self, index, port, opener):
        self.index = index
        self.port = port
        self.opener = opener
        self.transport = None
        self.splitter = LineSplitter()
        self.checker = StreamChecker()
        self.foot = None
        self.done = False  # the set ended or the replay finished
        self.sets_ended = 0
        self.finished = False  # a replay reached its end: nothing more will come
        self.lost = False
        self.events = []
        self.board = None
        self.fw_version = None  # the firmware version the pod reported (H calfwalk=, S fw=)


class Recorder:
    """Reads every pod, writes each line to the session at once, and tells `on_line` about it.

    Stops when every pod has reported set_end (or the end of its replay), after
    `seconds`, on Ctrl-C, or when every link is lost and does not come back.
    """

    def __init__(self, ports, session_path, opener, reconnect_s=10.0, on_line=None, on_note=None,
                 host_version=None):
        self.pods = [PodLink(i, p, opener) for i, p in enumerate(ports)]
        # the firmware version this calfwalk carries (and would flash): pods reporting another are warned about
        self.host_version = host_version if host_version is not None else firmware.version()
        self.writer = SessionWriter(session_path, ports)
        self.reconnect_s = reconnect_s
        self.on_line = on_line or (lambda pod, line, event: None)
        self.on_note = on_note or (lambda pod, text: None)
        self.sets = 1

    def note(self, pod, text):
        self.writer.record("note", pod.index, text)
        self.on_note(pod, text)

    def send(self, pod, command):
        if pod.transport is None or pod.lost:
            return
        self.writer.record("tx", pod.index, command)
        try:
            pod.transport.write((command + "\n").encode())
        except LinkLost as exc:
            self._lost(pod, exc)

    def _lost(self, pod, exc):
        self.note(pod, f"link lost: {exc}")
        try:
            pod.transport.close()
        except Exception:
            pass
        pod.transport = None
        if self.reconnect_s <= 0:
            pod.lost = True
            return
        try:
            pod.transport = wait_for(lambda: pod.opener(pod.port), self.reconnect_s)
            self.note(pod, "link back")
            self.send(pod, "status")
        except LinkLost:
            pod.lost = True
            self.note(pod, f"gave up after {self.reconnect_s:g} s")

    def _handle(self, pod, text):
        self.writer.record("rx", pod.index, text)
        line = pod.checker.feed(text)
        if line is None:
            return
        if pod.checker.rebooted:
            self.note(pod, "pod rebooted (sequence restarted); recording goes on")
        kv = line.kv()
        if line.kind in ("H", "S") and "foot" in kv:
            pod.foot = kv["foot"]
        if line.kind == "H":
            pod.board = kv.get("board") or pod.board
            self._check_version(pod, kv.get("calfwalk"))
        elif line.kind == "S" and "fw" in kv:
            self._check_version(pod, kv["fw"])
        if line.kind == "S" and kv.get("src") == "end":
            pod.done = pod.finished = True
        event = event_from_line(line, pod.foot or f"pod{pod.index}") if line.kind == "E" else None
        if event is not None:
            pod.events.append(event)
            if event["type"] == "set_end":
                pod.sets_ended += 1
                pod.done = pod.done or pod.sets_ended >= self.sets
        self.on_line(pod, line, event)

    def _check_version(self, pod, version):
        """Warn (once per version a pod reports) when the pod's firmware is not the host's."""
        version = version or "unknown"
        if version == pod.fw_version:
            return
        pod.fw_version = version
        if version != self.host_version:
            runs = "does not report its firmware version" if version == "unknown" else \
                f"runs calfwalk firmware {version}"
            self.note(pod, f"warning: firmware version differs: the pod {runs}, this calfwalk has {self.host_version}: "
                           f"update the pod with `calfwalk flash --board {pod.board or 'NAME'} --port {pod.port}`")

    def run(self, seconds=None, start=True, stop_at_end=True, grace_s=0.5, raw=False, sets=1) -> dict:
        """Record until done; returns per-pod stream stats.

        The pods find each set themselves (rise onto the toes ... heels lowered), so
        `start` only wakes a stopped pod. stop_at_end: stop once every pod has ended
        `sets` sets; without it, record sets until `seconds`, Ctrl-C or every replay ends.
        """
        self.sets = sets
        t_start = time.monotonic()
        for pod in self.pods:
            try:
                pod.transport = pod.opener(pod.port)
            except LinkLost:
                self.writer.close()
                raise
            self.send(pod, "status")
            if raw:
                self.send(pod, "raw on")
            if start:
                self.send(pod, "start")
        done_at = None
        try:
            while True:
                for pod in self.pods:
                    if pod.lost or pod.transport is None:
                        continue
                    try:
                        data = pod.transport.read(0.02)
                    except LinkLost as exc:
                        for text in pod.splitter.flush():
                            self._handle(pod, text)
                        self._lost(pod, exc)
                        continue
                    for text in pod.splitter.feed(data):
                        self._handle(pod, text)
                now = time.monotonic()
                if all(p.lost for p in self.pods):
                    break
                if seconds is not None and now - t_start >= seconds:
                    break
                if all(p.lost or p.finished or (stop_at_end and p.done) for p in self.pods):
                    done_at = done_at or now
                    if now - done_at >= grace_s:
                        break
        except KeyboardInterrupt:
            for pod in self.pods:
                self.note(pod, "recording stopped by the user")
        finally:
            for pod in self.pods:
                for text in pod.splitter.flush():
                    self._handle(pod, text)
                if pod.transport is not None:
                    pod.transport.close()
            self.writer.close()
        return {p.port: p.checker.stats for p in self.pods}
