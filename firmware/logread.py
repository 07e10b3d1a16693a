"""The pod's log read back for a PC (`log`, `pull`, `pulled`, `clock`), and room made on a full flash.

Loaded only then, so its code stays out of a walking pod's RAM. `listing` and `pull` are
generators: the app runs one step of them per pass of its loop, so a long log goes out a few
records at a time while the pod keeps sampling.
"""

import os
import struct

import protocol
from logboot import read_record, segments, size
from logbook import EVT, HEAD, MAX_PAYLOAD, PULLED, SET, TAIL

_PER_PASS = 8  # records read (listing) or sent (pull) per pass of the app's loop


def make_room(log, n):
    """Delete the oldest files that hold nothing unpulled (pulled sets, events outside sets) until
    `n` more bytes fit; False if they do not."""
    while log.free() < n:
        names = segments(log.dir)
        for name in names:
            no, kind = name[:6], name[6:]
            if name == log.name or no == names[-1][:6]:
                continue  # the newest number stays: the next boot numbers its files (and boots) on from it
            if kind == EVT or (kind == SET and no + PULLED in names):
                log.used -= size(log.dir + "/" + name)
                try:
                    os.remove(log.dir + "/" + name)
                    if kind == SET:
                        os.remove(log.dir + "/" + no + PULLED)
                except OSError:
                    return False
                break
        else:
            return False
    return True


def _kind(buf, n):
    """The record's event name (E records) as bytes, else b''."""
    if buf[2] != 69:  # "E"
        return b""
    end = HEAD
    while end < n - TAIL and buf[end] != 44:  # up to the first ","
        end += 1
    return bytes(buf[HEAD:end])


def command(app, name, args):
    """`log`, `pull SET`, `pulled SET...`, `clock UNIX_MS`; the OK detail, or None when a job replies later."""
    if name != "log" and (not args or not all([a.isdigit() for a in args])):
        raise ValueError("usage: %s" % ("pull SET" if name == "pull" else "pulled SET [SET...]" if name == "pulled"
                                        else "clock UNIX_MS"))
    if name == "pulled":
        return "marked=%d" % mark(app.enc.log, [int(a) for a in args])
    if name == "clock":
        if len(args) != 1:
            raise ValueError("usage: clock UNIX_MS")
        # the PC's time into the log: sets of this boot can be dated after a reboot too
        up = app.now()
        app.enc.log.add("T", up, "utc=" + args[0])
        app.enc.log.flush()
        return "boot=%d,up=%d" % (app.enc.log.boot, up)
    if app.enc.log.job is not None:
        raise ValueError("busy with the last log or pull; try again")
    if name == "log":
        if args:
            raise ValueError("takes no arguments")
        app.enc.log.job = listing(app)
    else:
        if len(args) != 1:
            raise ValueError("usage: pull SET")
        app.enc.log.job = pull(app, int(args[0]))
    return None  # the job sends its lines, then OK


def listing(app):
    """`log`: an L line per set and per boot, then OK with the totals."""
    log = app.enc.log
    log.flush()
    names = segments(log.dir)
    buf = bytearray(HEAD + MAX_PAYLOAD + TAIL)
    boots = {}  # type: dict[int, list[int]]  # boot -> [last uptime seen, utc of a clock sync, its uptime]
    sets = 0
    for name in names:
        kind = name[6:]
        if kind == PULLED:
            continue
        info = [0, 0, 0, 0, -1, -1, 0, 0]  # records, bytes, steps, contacts, boot, start up, end up, set_end
        k = 0
        try:
            f = open(log.dir + "/" + name, "rb")
        except OSError:
            continue
        with f:
            while True:
                n = read_record(f, buf)
                if not n:
                    break
                _m, _l, typ, boot, _seq, up = struct.unpack_from("<BBBHII", buf, 0)
                b = boots.get(boot)
                if b is None:
                    b = boots[boot] = [up, -1, 0]
                elif up > b[0]:
                    b[0] = up
                if typ == 84:  # "T": a clock sync, "utc=<unix s>"
                    b[1] = int(bytes(buf[HEAD + 4:n - TAIL]))
                    b[2] = up
                ev = _kind(buf, n)
                if info[4] < 0:
                    info[4] = boot
                if ev == b"set_start":
                    info[5] = up
                elif ev == b"step":
                    info[2] += 1
                elif ev == b"heel_contact":
                    info[3] += 1
                elif ev == b"set_end":
                    info[7] = 1
                info[0] += 1
                info[1] += n
                info[6] = up
                k += 1
                if k % _PER_PASS == 0:
                    yield
        if kind == SET:
            sets += 1
            state = "done" if info[7] else ("open" if name == log.name and log.set_open else "cut")
            app.send(protocol.LOG, "set,id=%d,boot=%d,up=%d,end=%d,records=%d,bytes=%d,steps=%d,contacts=%d,state=%s,pulled=%d" % (
                int(name[:6]), info[4], info[5], info[6], info[0], info[1], info[2], info[3], state,
                1 if name[:6] + PULLED in names else 0))
            yield
    for boot in sorted(boots):
        b = boots[boot]
        app.send(protocol.LOG, "boot,boot=%d,last=%d,utc=%d,at=%d" % (boot, b[0], b[1], b[2]))
        yield
    app.send(protocol.OK, "log,sets=%d,bytes=%d,free=%d,boot=%d,full=%d,writes=%d,dropped=%d" % (
        sets, log.used, log.free(), log.boot, 1 if log.full else 0, log.writes, log.dropped))


def pull(app, no):
    """`pull N`: every record of set N as a P line (with its CRC from flash), then OK."""
    log = app.enc.log
    name = "%06d%s" % (no, SET)
    if name == log.name and log.set_open:
        app.send(protocol.ERR, "pull,set %d is still under way" % no)
        return
    buf = bytearray(HEAD + MAX_PAYLOAD + TAIL)
    try:
        f = open(log.dir + "/" + name, "rb")
    except OSError:
        app.send(protocol.ERR, "pull,no set %d on this pod" % no)
        return
    count = size = 0
    with f:
        while True:
            n = read_record(f, buf)
            if not n:
                break
            _m, k, typ, boot, seq, up = struct.unpack_from("<BBBHII", buf, 0)
            crc = struct.unpack_from("<I", buf, n - TAIL)[0]
            app.send(protocol.RECORD, "%d,%d,%d,%d,%s,%08x,%s" % (no, seq, boot, up, chr(typ), crc,
                                                     bytes(buf[HEAD:HEAD + k]).decode()))
            count += 1
            size += n
            if count % _PER_PASS == 0:
                yield
    app.send(protocol.OK, "pull,id=%d,records=%d,bytes=%d" % (no, count, size))


def mark(log, numbers):
    """`pulled N...`: a PC has stored these sets; they may now make room. The count marked."""
    done = 0
    for no in numbers:
        base = log.dir + "/%06d" % no
        try:
            os.stat(base + SET)
        except OSError:
            continue
        with open(base + PULLED, "wb"):
            pass
        done += 1
    return done

