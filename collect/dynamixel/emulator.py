"""Servo chains on pseudo-terminals, served by one selector loop in a thread or a separate process.

Each chain gets a pty; its slave path (`/dev/pts/N`) is opened by the real `dynamixel_sdk.PortHandler`
exactly like a USB adapter. The loop reads instruction packets from every master side, lets the
`ServoChain` answer, and writes the status packets back, either at once (`line=None`, the software
ceiling) or at the time a real half-duplex line would deliver them: the request's and each reply's
bytes take 10 bits each at the line's bit rate, plus every motor's return delay.

Run it in-process for unit tests (`Emulator(mode="thread")`) or in its own process
(`mode="process"`, started with `spawn`) so a recorder's control loop does not share its GIL.
All control goes through one command pipe, so both modes behave the same.

The USB adapter is modelled too: each chain has a sysfs-like `latency_timer` file under the
emulator's `sysfs_root` (`<root>/bus/usb-serial/devices/<tty>/latency_timer`, as Linux has for FTDI
adapters), and `set_latency_timer` both writes it and holds every reply back that long, as an FTDI
chip does with short packets.

Simplifications: the Baud Rate register is stored but a pty carries any rate (the line timing is
the chain's `line_bps`); the indirect-address area is absent.
"""

from __future__ import annotations

import contextlib
import heapq
import multiprocessing
import multiprocessing.connection
import os
import selectors
import shutil
import signal
import tempfile
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from demoforge.collect.dynamixel import control_table as ct
from demoforge.collect.dynamixel import protocol as p
from demoforge.collect.dynamixel.servo import Servo
from demoforge.collect.dynamixel.servo_chain import Fault, ServoChain
from demoforge.collect.dynamixel.usb_adapter import latency_timer_file
from demoforge.schemas.errors import UserError

LINES: dict[str, float | None] = {"ideal": None, "1M": 1_000_000.0, "4M": 4_000_000.0}
ANSWER_TIMEOUT_S = 120.0  # how long a command to the emulator may wait for its answer


@dataclass(frozen=True)
class MotorSpec:
    id: int
    model: str  # "xm430-w350"
    position: float = ct.CENTER_TICK  # start position, mechanical ticks
    min_position: int = 0  # position limits written to the EEPROM image
    max_position: int = 4095
    drive_mode: int = 0  # EEPROM settings as a vendor tool left them (Interbotix: shadows reversed)
    secondary_id: int = ct.SECONDARY_ID_NONE
    homing_offset: int = 0
    operating_mode: int = ct.MODE_POSITION
    couple_to: int | None = None  # the motor sharing this one's rigid joint (a shadow's partner)
    couple_sign: int = -1  # -1: mounted opposite to `couple_to` (positions move oppositely)
    return_delay: int | None = None  # as a previous session left it; None: the chain's (factory) value


@dataclass(frozen=True)
class ChainSpec:
    """A chain to emulate. `driver(t)` (picklable) gives mechanical ticks per motor id at time t."""

    motors: tuple[MotorSpec, ...]
    line_bps: float | None = None  # None: zero-latency line
    driver: Callable[[float], dict[int, float]] | None = None
    return_delay: int = 250  # factory default, 2 µs units; the bus sets 0
    latency_timer_ms: int = 1  # what the adapter's sysfs file says (udev rule applied)
    reply_latency_s: float = 0.0  # replies held back by the adapter (0: an ideal adapter)


def build_chain(spec: ChainSpec) -> ServoChain:
    servos = []
    for m in spec.motors:
        s = Servo(ct.model(m.model), m.id, m.position)
        s.set("min_position_limit", m.min_position)
        s.set("max_position_limit", m.max_position)
        s.set("return_delay_time", spec.return_delay if m.return_delay is None else m.return_delay)
        s.set("drive_mode", m.drive_mode)
        s.set("secondary_id", m.secondary_id)
        s.set("homing_offset", m.homing_offset)
        s.set("operating_mode", m.operating_mode)
        s.set("goal_position", round(s.to_register(s.position)))
        servos.append(s)
    chain = ServoChain(servos)
    chain.reply_latency_s = spec.reply_latency_s
    for m in spec.motors:
        if m.couple_to is not None:
            chain.couple(m.couple_to, m.id, m.couple_sign)
    if spec.driver is not None:
        script = _Script(spec.driver, time.monotonic())
        for s in servos:
            s.driver = script.follower_of(s.id)
        chain.script = script
    return chain


class _Script:
    """Evaluates a chain's driver once per instant and hands each motor its entry."""

    def __init__(self, driver: Callable[[float], dict[int, float]], t0: float) -> None:
        self.driver, self.t0 = driver, t0
        self._at: float | None = None
        self._ticks: dict[int, float] = {}
        self._frozen_t = 0.0
        self._paused_until = 0.0

    def pause(self, now: float, seconds: float) -> None:
        """The operator holds still for `seconds`, then carries on where the motion stopped."""
        if now < self._paused_until:
            return
        self._frozen_t = now - self.t0
        self._paused_until = now + seconds
        self.t0 += seconds
        self._at = None

    def ticks(self, motor_id: int, now: float) -> float:
        if now != self._at:
            t = self._frozen_t if now < self._paused_until else now - self.t0
            self._at, self._ticks = now, self.driver(t)
        return self._ticks[motor_id]

    def follower_of(self, motor_id: int) -> Callable[[float], float]:
        return lambda now: self.ticks(motor_id, now)


@dataclass
class _Link:
    name: str
    chain: ServoChain
    line_bps: float | None
    master: int
    slave: int
    path: str
    parser: p.PacketParser = field(default_factory=p.PacketParser)
    busy_until: float = 0.0  # when the line is free again (monotonic time)


class _Loop:
    """The selector loop: all chains, the command pipe, and the reply schedule."""

    def __init__(self, conn: multiprocessing.connection.Connection) -> None:
        self.conn = conn
        # select(2) keeps microsecond timeouts; epoll rounds up to whole milliseconds.
        self.sel = selectors.SelectSelector()
        self.sel.register(conn.fileno(), selectors.EVENT_READ, None)
        self.links: dict[str, _Link] = {}
        self.pending: list[tuple[float, int, int, bytes]] = []  # (due, seq, fd, bytes)
        self.seq = 0
        self.running = True

    def run(self) -> None:
        try:
            while self.running:
                timeout = None
                if self.pending:
                    timeout = max(0.0, self.pending[0][0] - time.monotonic())
                for key, _ in self.sel.select(timeout):
                    if key.data is None:
                        self._command()
                    else:
                        self._receive(key.data)
                self._flush(time.monotonic())
        finally:
            for link in self.links.values():
                os.close(link.master)
                os.close(link.slave)

    def _flush(self, now: float) -> None:
        while self.pending and self.pending[0][0] <= now:
            _, _, fd, data = heapq.heappop(self.pending)
            with contextlib.suppress(BlockingIOError, OSError):  # nobody reading: bytes are lost
                os.write(fd, data)

    def _receive(self, link: _Link) -> None:
        try:
            data = os.read(link.master, 4096)
        except (BlockingIOError, OSError):
            return
        now = time.monotonic()
        byte_s = 10.0 / link.line_bps if link.line_bps else 0.0
        for pkt in link.parser.feed(data):
            # Half duplex: a request is on the wire after whatever the line is still carrying
            # (a sync write has no reply, but the next request still waits for its bytes).
            t = max(now, link.busy_until) + len(p.encode(pkt)) * byte_s
            replies = link.chain.handle(pkt, now)
            if not byte_s and not any(r.delay_s for r in replies):
                if replies:
                    self._send(link.master, now, b"".join(r.data for r in replies))
                continue
            for r in replies:
                t += r.delay_s + len(r.data) * byte_s
                self._send(link.master, t, r.data)
            link.busy_until = t

    def _send(self, fd: int, due: float, data: bytes) -> None:
        self.seq += 1
        heapq.heappush(self.pending, (due, self.seq, fd, data))

    def _command(self) -> None:
        try:
            cmd, *args = self.conn.recv()
        except EOFError:
            self.running = False
            return
        # Bytes a client wrote before sending this command are handled first, so a command sees
        # the effect of a sync write (which has no reply to wait for) that preceded it.
        for link in self.links.values():
            self._receive(link)
        try:
            result = getattr(self, f"cmd_{cmd}")(*args)
            self.conn.send(("ok", result))
        except Exception as e:  # a bad command must not kill the loop; the caller re-raises it
            self.conn.send(("error", f"{type(e).__name__}: {e}"))

    def cmd_add(self, name: str, spec: ChainSpec) -> str:
        if name in self.links:
            raise ValueError(f"chain {name!r} already exists")
        master, slave = os.openpty()
        tty.setraw(master)
        tty.setraw(slave)
        os.set_blocking(master, False)
        link = _Link(name, build_chain(spec), spec.line_bps, master, slave, os.ttyname(slave))
        self.links[name] = link
        self.sel.register(master, selectors.EVENT_READ, link)
        return link.path

    def cmd_inject(self, name: str, motor_id: int, fault: Fault) -> None:
        self.links[name].chain.inject(motor_id, fault)

    def cmd_clear(self, name: str, motor_id: int | None) -> None:
        self.links[name].chain.clear(motor_id)

    def cmd_pause(self, name: str, seconds: float) -> None:
        script = self.links[name].chain.script
        if script is None:
            raise ValueError(f"chain {name!r} has no scripted operator to pause")
        script.pause(time.monotonic(), seconds)

    def cmd_move(self, name: str, positions: dict[int, float]) -> None:
        for motor_id, ticks in positions.items():
            self.links[name].chain.servos[motor_id].position = float(ticks)

    def cmd_line(self, name: str, line_bps: float | None) -> None:
        self.links[name].line_bps = line_bps

    def cmd_state(self, name: str, motor_id: int) -> dict[str, int]:
        chain = self.links[name].chain
        chain.advance(time.monotonic())
        servo = chain.servos[motor_id]
        return {reg: servo.get(reg) for reg in servo.model.registers}

    def cmd_where(self, name: str, motor_id: int) -> float:
        chain = self.links[name].chain
        chain.advance(time.monotonic())
        return chain.servos[motor_id].position

    def cmd_set(self, name: str, motor_id: int, register: str, value: int) -> None:
        self.links[name].chain.servos[motor_id].set(register, value)

    def cmd_place(self, name: str, positions: dict[int, float]) -> None:
        chain = self.links[name].chain
        chain.advance(time.monotonic())
        for motor_id, ticks in positions.items():
            servo = chain.servos[motor_id]
            servo.driver = None
            servo.position = float(ticks)
        for a, b, sign, _ in list(chain.couplings):  # re-tie the joints where they now are
            if a.id in positions or b.id in positions:
                chain.couplings.remove((a, b, sign, _))
                chain.couple(a.id, b.id, sign)

    def cmd_stops(self, name: str, motor_id: int, lo: float, hi: float) -> None:
        self.links[name].chain.servos[motor_id].stops = (lo, hi)

    def cmd_reply_latency(self, name: str, seconds: float) -> None:
        self.links[name].chain.reply_latency_s = seconds

    def cmd_stop(self) -> None:
        self.running = False


def _serve(conn: multiprocessing.connection.Connection) -> None:
    # Ctrl-C in a terminal reaches the whole process group: the parent stops this loop itself; a
    # KeyboardInterrupt here would print the child's traceback over the operator's display
    if threading.current_thread() is threading.main_thread():  # "process" mode: the child's main thread
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    _Loop(conn).run()


class Emulator:
    """Servo chains served by one loop; `mode` "thread" (tests) or "process" (recording, benchmarks)."""

    def __init__(self, mode: str = "thread") -> None:
        if mode not in ("thread", "process"):
            raise ValueError(f"mode must be 'thread' or 'process', not {mode!r}")
        self.mode = mode
        self._conn, child = multiprocessing.Pipe()
        self._lock = threading.Lock()
        self._runner: threading.Thread | multiprocessing.process.BaseProcess
        if mode == "thread":
            self._runner = threading.Thread(
                target=_serve, args=(child,), name="dynamixel-emulator", daemon=True
            )
        else:
            ctx = multiprocessing.get_context("spawn")  # safe beside threads, unlike fork
            self._runner = ctx.Process(target=_serve, args=(child,), name="dynamixel-emulator", daemon=True)
        self._runner.start()
        self._child = child
        if mode == "process":
            child.close()  # the child process holds its own copy
        self._stopped = False
        self.sysfs_root = Path(tempfile.mkdtemp(prefix="dxl-sysfs-"))  # the adapters' latency_timer files
        self._paths: dict[str, str] = {}

    def _call(self, *cmd: Any, timeout_s: float | None = None) -> Any:
        with self._lock:
            if self._stopped:
                raise RuntimeError("the emulator is stopped")
            try:
                self._conn.send(cmd)
                self._wait_answer(cmd[0], ANSWER_TIMEOUT_S if timeout_s is None else timeout_s)
                status, result = self._conn.recv()
            except (OSError, EOFError) as e:  # the process died: its end of the pipe is gone
                raise RuntimeError(f"the emulator stopped before answering {cmd[0]!r}") from e
        if status != "ok":
            raise RuntimeError(f"emulator {cmd[0]}: {result}")
        return result

    def _wait_answer(self, what: str, timeout_s: float) -> None:
        # A spawned process imports for a second or two, and much longer on a machine busy with
        # other work (seen: over 30 s beside a training run); a dead one is told at once.
        deadline = time.monotonic() + timeout_s
        while not self._conn.poll(0.5):
            if not self._runner.is_alive():
                raise RuntimeError(f"the emulator stopped before answering {what!r}")
            if time.monotonic() > deadline:
                raise UserError(
                    f"the Dynamixel emulator (the helper process behind a virtual or simulated rig) did "
                    f"not answer {what!r} within {timeout_s:.0f} s",
                    "the machine is too busy to run it: retry when fewer jobs are running",
                )

    def add_chain(self, name: str, spec: ChainSpec) -> str:
        """Start emulating a chain; returns the pty slave path to open as a serial port."""
        path = str(self._call("add", name, spec))
        self._paths[name] = path
        self._write_latency_timer(name, spec.latency_timer_ms)
        return path

    def latency_timer_file(self, name: str) -> Path:
        """The sysfs-like file of chain `name`'s adapter (read by the bus at open)."""
        return latency_timer_file(self._paths[name], self.sysfs_root)

    def _write_latency_timer(self, name: str, ms: int) -> None:
        f = self.latency_timer_file(name)
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(f"{ms}\n")

    def set_latency_timer(self, name: str, ms: int) -> None:
        """A stock (16 ms) or tuned (1 ms) adapter: the sysfs file says `ms`, replies come that late."""
        self._write_latency_timer(name, ms)
        self._call("reply_latency", name, ms / 1000.0)

    def set_register(self, name: str, motor_id: int, register: str, value: int) -> None:
        """Set a register of one motor as a vendor tool or a previous session left it (no checks)."""
        self._call("set", name, motor_id, register, int(value))

    def place(self, name: str, positions: dict[int, float]) -> None:
        """A person puts motors at mechanical `positions` (ticks) by hand; they stay there."""
        self._call("place", name, {int(k): float(v) for k, v in positions.items()})

    def mechanical_position(self, name: str, motor_id: int) -> float:
        """Where a motor's shaft is, in the mechanical ticks `set_stops` takes: before the Homing Offset
        and Drive Mode that its Present Position register includes."""
        return float(self._call("where", name, motor_id))

    def set_stops(self, name: str, motor_id: int, lo: float, hi: float) -> None:
        """Mechanical travel left to a motor, in ticks (an object between the gripper fingers)."""
        self._call("stops", name, motor_id, float(lo), float(hi))

    def inject(self, name: str, motor_id: int, kind: str, *, seconds: float = 0.0, count: int = -1) -> None:
        """Inject a fault (see `servo_chain.FAULTS`) into motor `motor_id` of chain `name`."""
        self._call("inject", name, motor_id, Fault(kind, seconds, count))

    def clear(self, name: str, motor_id: int | None = None) -> None:
        """Remove the faults of one motor (or all motors) of chain `name`: a gone motor reappears."""
        self._call("clear", name, motor_id)

    def pause_operator(self, name: str, seconds: float) -> None:
        """The scripted operator of chain `name` holds the leader still for `seconds`."""
        self._call("pause", name, float(seconds))

    def move(self, name: str, positions: dict[int, float]) -> None:
        """A hand moves torque-off motors of chain `name` to `positions` (mechanical ticks per id)."""
        self._call("move", name, positions)

    def set_line(self, name: str, line: str) -> None:
        """Change a chain's line timing: "ideal", "1M" or "4M"."""
        self._call("line", name, LINES[line])

    def state(self, name: str, motor_id: int) -> dict[str, int]:
        """Every register of one motor, as the emulator holds it now."""
        return dict(self._call("state", name, motor_id))

    def stop(self) -> None:
        """Stop the loop and close every pty; safe to call twice."""
        if self._stopped:
            return
        with contextlib.suppress(RuntimeError, OSError, EOFError, UserError):
            self._call("stop", timeout_s=5.0)
        self._stopped = True
        self._runner.join(timeout=5.0)
        if isinstance(self._runner, multiprocessing.process.BaseProcess) and self._runner.is_alive():
            self._runner.terminate()
        self._conn.close()
        if self.mode == "thread":
            self._child.close()
        shutil.rmtree(self.sysfs_root, ignore_errors=True)

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
