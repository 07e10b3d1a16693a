"""Loaders for the public gait recordings in ../shared/data (see its README).

Each dataset is converted to raw v1 recordings (mg, mdps, pad counts) on its own
sample clock, with its reference annotations on the same millisecond timeline,
so the firmware detector replays them exactly as it replays our own recordings.
Nothing here tunes the detector: only units, axes order and timelines change.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from calfwalk.files.rawfile import RawRecording

G_MS2 = 9.80665
FEET = ("left", "right")
GAITPDB_CONTACT_N = 20.0  # the dataset README's contact threshold on a foot's total force
GAITPDB_SWING_MS = 100  # off (and then on) the floor at least this long: a contact
GAITPDB_COUNTS_PER_N = 50  # force to pad counts: 0..~1300 N spans the 16-bit ADC range
MOTICON_HEEL_CELLS = 4  # cells 1-4 lie under the heel
MOTICON_HEEL_LOADED_NCM2 = 1.0  # N/cm^2 summed over the heel cells: the heel carries load


class DatasetError(ValueError):
    """A dataset file that cannot be read; the message names the file."""


@dataclass
class Trial:
    """One recorded walk: per-foot raw recordings and the reference annotations.

    `ics_ms` are reference initial contacts (heel strikes) per foot on the
    recordings' t_ms timeline; `windows_ms` per foot the spans where they are complete
    (events outside are not scored); `timing_ref` says whether the ICs are a
    timing reference (motion capture, hand marks) or only good for counting.
    `heel_loaded` is the per-sample pressure state under the heel (insoles).
    """

    dataset: str
    name: str
    recs: dict
    ics_ms: dict
    windows_ms: list
    timing_ref: bool = False
    heel_loaded: dict = field(default_factory=dict)
    notes: str = ""
    truth_steps: dict = field(default_factory=dict)  # simulated sets: the true step count per foot
    # footsteps as [start, end] ms (heel off the floor .. foot at rest again) where the reference
    # marks intervals, not instants (truong2019): a contact matches one from its middle to end + 100 ms
    intervals_ms: dict = field(default_factory=dict)


def data_dir() -> Path | None:
    """../shared/data beside the checkout (or $CALFWALK_DATA), None when absent."""
    env = os.environ.get("CALFWALK_DATA")
    path = Path(env) if env else Path(__file__).resolve().parents[4] / "shared" / "data"
    return path if path.is_dir() else None


def _rec(foot, sensor, rate_hz, t_ms, cols, name, source) -> RawRecording:
    data = np.column_stack([np.asarray(t_ms, dtype=np.int64)] + [np.rint(c).astype(np.int64) for c in cols])
    return RawRecording(foot, sensor, int(round(rate_hz)), data, {"source": source}, name)


# -- gaitmap: shoe IMU, motion-capture initial contacts ---------------------------------
GAITMAP_RATE_HZ = 204.8


def load_gaitmap(root: Path) -> list:
    folder = root / "gaitmap"
    path = folder / "imu_sample.csv"
    try:
        with open(path, newline="") as fh:
            rows = list(csv.reader(fh))
        sensors, axes = rows[0][1:], rows[1][1:]
        values = np.array(rows[2:], dtype=float)[:, 1:]
    except (OSError, ValueError, IndexError) as exc:
        raise DatasetError(f"{path}: {exc}") from None
    n = len(values)
    t_ms = np.rint(np.arange(n) * 1000.0 / GAITMAP_RATE_HZ)
    recs, ics = {}, {}
    for foot in FEET:
        def col(axis):
            return values[:, [i for i, (s, a) in enumerate(zip(sensors, axes)) if s == f"{foot}_sensor" and a == axis][0]]

        acc = [col(a) / G_MS2 * 1000.0 for a in ("acc_x", "acc_y", "acc_z")]
        gyr = [col(a) * 1000.0 for a in ("gyr_x", "gyr_y", "gyr_z")]
        recs[foot] = _rec(foot, "imu", GAITMAP_RATE_HZ, t_ms, acc + gyr, f"gaitmap/{foot}", "gaitmap")
    ev_path = folder / "stride_events_sample.csv"
    with open(ev_path, newline="") as fh:
        for row in csv.DictReader(fh):
            # each stride lists its own IC and the one before it (the first stride's pre_ic is the walk's first)
            for key in ("pre_ic", "ic"):
                ics.setdefault(row["foot"], []).append(float(row[key]) * 1000.0 / GAITMAP_RATE_HZ)
    ics = {f: np.array(sorted(set(v))) for f, v in ics.items()}
    # only whole strides between the walk's first and last IC are annotated (not the stops)
    windows = {f: [(float(v[0]), float(v[-1]))] for f, v in ics.items()}
    return [Trial("gaitmap", "imu_sample", recs, ics, windows, timing_ref=True)]


# -- Moticon: pressure insoles with an IMU ----------------------------------------------
MOTICON_RATE_HZ = 100


def _moticon_table(path):
    header = None
    rows = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.startswith("#"):
                header = line[1:].strip().split("\t")
                continue
            if line.strip():
                rows.append(line.rstrip("\n").split("\t"))
    if header is None:
        raise DatasetError(f"{path}: no column header line")
    header = [h.strip() for h in header]
    return header, rows


def _moticon_trial(path) -> Trial:
    header, rows = _moticon_table(path)
    idx = {h: i for i, h in enumerate(header)}

    def col(name, default=np.nan):
        i = idx[name]
        out = np.full(len(rows), default)
        for k, r in enumerate(rows):
            if i < len(r) and r[i].strip() != "":
                try:
                    out[k] = float(r[i])
                except ValueError:
                    pass
        return out

    t_ms = np.rint(col("time") * 1000.0)
    recs, ics, heel = {}, {}, {}
    marks_by_hand = "Right Events label[]" in idx
    for foot in FEET:
        acc = [col(f"{foot} acceleration {a}[g]") * 1000.0 for a in "XYZ"]
        gyr = [col(f"{foot} angular {a}[dps]") * 1000.0 for a in "XYZ"]
        ok = np.all(np.isfinite(np.column_stack(acc + gyr)), axis=1)
        if not ok.any():
            continue
        # rows before the insole sent data are blank: start at its first sample
        first = int(np.argmax(ok))
        keep = np.arange(first, len(rows))
        acc = [np.nan_to_num(a[keep]) for a in acc]
        gyr = [np.nan_to_num(g[keep]) for g in gyr]
        recs[foot] = _rec(foot, "imu", MOTICON_RATE_HZ, t_ms[keep], acc + gyr, f"moticon/{path.name}/{foot}", "moticon")
        cells = sum(np.nan_to_num(col(f"{foot} pressure {c}[N/cm²]")[keep]) for c in range(1, MOTICON_HEEL_CELLS + 1))
        heel[foot] = cells >= MOTICON_HEEL_LOADED_NCM2
        if marks_by_hand:
            # label column says "Event"; the value column holds 1 (heel strike) or 2 (toe off)
            code = col(f"{foot.capitalize()} Events[]")
            marks = [t_ms[k] for k in keep if code[k] == 1.0]
        else:
            code = 11 if foot == "left" else 21
            steps = col(f"{foot} steps[]")
            marks = [t_ms[k] for k in keep if steps[k] == code]
        ics[foot] = np.array(marks, dtype=float)
    # the marks cover the walk from its first to its last heel strike, not the closing step
    windows = {f: [(float(v[0]), float(v[-1]))] if len(v) else [] for f, v in ics.items()}
    return Trial("moticon", path.name, recs, ics, windows, timing_ref=True, heel_loaded=heel)


def load_moticon(root: Path) -> list:
    return [_moticon_trial(p) for p in sorted((root / "moticon").glob("*.txt"))]


# -- voisard2023: XSens foot IMUs, annotated steps --------------------------------------
VOISARD_RATE_HZ = 100
VOISARD_MAX_FILL_MS = 200  # longer packet gaps are left as gaps (the pod's link drops samples too)


def _voisard_foot(path, foot, name):
    try:
        raw = np.loadtxt(path, skiprows=2)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: {exc}") from None
    counter = raw[:, 0].astype(np.int64)
    order = np.argsort(counter, kind="stable")
    counter, raw = counter[order], raw[order]
    keep = np.concatenate([[True], np.diff(counter) > 0])
    counter, raw = counter[keep], raw[keep]
    acc = raw[:, 1:4] / G_MS2 * 1000.0
    gyr = np.degrees(raw[:, 4:7]) * 1000.0
    # short packet gaps are filled linearly on the counter's timeline; long ones stay gaps
    full = np.arange(counter[0], counter[-1] + 1)
    pos = np.searchsorted(counter, full)
    prev = counter[np.clip(pos - 1, 0, len(counter) - 1)]
    nxt = counter[np.clip(pos, 0, len(counter) - 1)]
    span = (nxt - prev) * 1000 // VOISARD_RATE_HZ
    present = np.isin(full, counter)
    fill = present | (span <= VOISARD_MAX_FILL_MS)
    t = full[fill]
    cols = [np.interp(t, counter, acc[:, k]) for k in range(3)] + [np.interp(t, counter, gyr[:, k]) for k in range(3)]
    missing = 1.0 - len(counter) / len(full)
    rec = _rec(foot, "imu", VOISARD_RATE_HZ, t * 1000 // VOISARD_RATE_HZ, cols, name, "voisard2023")
    return rec, missing, (~fill).sum() * 1000 // VOISARD_RATE_HZ


def load_voisard(root: Path) -> list:
    trials = []
    folder = root / "voisard2023"
    for meta_path in sorted(folder.glob("*.json"), key=lambda p: [int(x) for x in p.stem.split("-")]):
        meta = json.loads(meta_path.read_text())
        stem = meta_path.stem
        recs, ics, notes = {}, {}, []
        for foot, suffix, key in (("left", "lf", "LeftFootEvents"), ("right", "rf", "RightFootEvents")):
            rec, missing, unfilled_ms = _voisard_foot(folder / f"{stem}_{suffix}.txt", foot, f"voisard2023/{stem}/{foot}")
            recs[foot] = rec
            ics[foot] = np.array([hs * 1000.0 / VOISARD_RATE_HZ for _to, hs in meta[key]])
            notes.append(f"{foot} {missing:.0%} packets lost, {unfilled_ms} ms unfilled")
        to_ms = 1000.0 / VOISARD_RATE_HZ
        t0, t1 = meta["TrialBoundaries"]
        u0, u1 = meta["UTurnBoundaries"]
        windows = [(t0 * to_ms, u0 * to_ms), (u1 * to_ms, t1 * to_ms)]
        trials.append(Trial("voisard2023", stem, recs, ics, {f: windows for f in recs}, timing_ref=False,
                            notes="; ".join(notes)))
    return trials


# -- gaitpdb: 8 force sensors under each foot ------------------------------------------
GAITPDB_RATE_HZ = 100


def gaitpdb_pads(forces: np.ndarray) -> list:
    """Heel, big-toe side and little-toe side pad counts from the 8 sensors of one foot.

    Sensor 1 lies under the heel, 3/5/7 on the medial and 2/4/6 on the lateral
    side, 8 under the toes (PhysioNet gaitpdb sensor map): the forefoot pads are
    the sensors under the metatarsal heads and toes, as our pads would be.
    """
    heel = forces[:, 0]
    med = forces[:, 6] + forces[:, 7]
    lat = forces[:, 5]
    return [np.clip(x * GAITPDB_COUNTS_PER_N, 0, 65535) for x in (heel, med, lat)]


def gaitpdb_contacts(total_n: np.ndarray, t_ms: np.ndarray) -> np.ndarray:
    """Reference contact onsets: the foot's total force rising above 20 N after a swing, for a stance.

    Both the swing before and the load after must last GAITPDB_SWING_MS, so a
    flicker at 20 N or a toe scuffing the floor mid-swing is not counted.
    """
    on = total_n > GAITPDB_CONTACT_N
    rise = np.flatnonzero(on[1:] & ~on[:-1]) + 1
    fall = np.flatnonzero(~on[1:] & on[:-1]) + 1
    # a rise counts after the foot was off the floor a while (a swing), not after a flicker at 20 N
    out = []
    for r in rise:
        before = fall[fall < r]
        after = fall[fall > r]
        # a stance lasts: a toe scuffing the floor in mid-swing is not a contact
        lasts = len(after) == 0 or t_ms[after[0]] - t_ms[r] >= GAITPDB_SWING_MS
        if lasts and (len(before) == 0 or t_ms[r] - t_ms[before[-1]] >= GAITPDB_SWING_MS):
            out.append(t_ms[r])
    return np.array(out, dtype=float)


def load_gaitpdb(root: Path) -> list:
    trials = []
    for path in sorted((root / "gaitpdb").glob("*.txt")):
        try:
            raw = np.loadtxt(path)
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{path}: {exc}") from None
        t_ms = np.rint(raw[:, 0] * 1000.0)
        recs, ics = {}, {}
        for foot, first, total in (("left", 1, 17), ("right", 9, 18)):
            pads = gaitpdb_pads(raw[:, first:first + 8])
            recs[foot] = _rec(foot, "fsr", GAITPDB_RATE_HZ, t_ms, pads, f"gaitpdb/{path.stem}/{foot}", "gaitpdb")
            ics[foot] = gaitpdb_contacts(raw[:, total], t_ms)
        span = [(float(t_ms[0]), float(t_ms[-1]))]
        trials.append(Trial("gaitpdb", path.stem, recs, ics, {f: span for f in recs}))
    return trials


# -- truong2019: foot IMUs, mostly neurological patients (already raw v1) ----------------
def load_truong(root: Path) -> list:
    from calfwalk.files.rawfile import RawFormatError, read_raw

    folder = root / "truong2019"
    trials = []
    for meta_path in sorted(folder.glob("*/truth.json"), key=lambda p: [int(x) for x in p.parent.name.split("-")]):
        try:
            meta = json.loads(meta_path.read_text())
            recs = {foot: read_raw(str(meta_path.parent / meta["files"][foot])) for foot in FEET}
        except (OSError, ValueError, KeyError, RawFormatError) as exc:
            raise DatasetError(f"{meta_path}: {exc}") from None
        intervals = {foot: np.array(meta["motion_ms"][foot], dtype=float).reshape(-1, 2) for foot in FEET}
        windows = [(float(a), float(b)) for a, b in meta["bouts_ms"]]
        ics = {foot: intervals[foot][:, 1] for foot in FEET}
        trials.append(Trial("truong2019", meta_path.parent.name, recs, ics, {f: windows for f in FEET},
                            intervals_ms=intervals, notes=f"{meta.get('group', '')} {meta.get('device', '')}".strip()))
    return trials


# -- accelerometer-only views of the IMU recordings (issue 17) ------------------------------
def acc_only(rec: RawRecording) -> RawRecording:
    """The recording an accelerometer alone would have made: sensor acc (acc+fsr), the gyro columns dropped.

    The acceleration samples, the timeline and the foot are kept as they are; a recording
    without a gyro is returned unchanged."""
    if not rec.has_gyro:
        return rec
    from calfwalk.files.rawfile import columns_for

    sensor = rec.sensor.replace("imu", "acc")
    keep = [rec.columns.index(c) for c in columns_for(sensor)]
    name = rec.path + " (acc)" if rec.path else ""
    return RawRecording(rec.foot, sensor, rec.rate_hz, rec.data[:, keep].copy(), dict(rec.meta, gyro="dropped"), name,
                        list(rec.warnings))


def acc_trial(trial: Trial) -> Trial:
    """A trial with every IMU recording made accelerometer-only (acc_only); the references are the same."""
    from dataclasses import replace

    return replace(trial, recs={f: acc_only(r) for f, r in trial.recs.items()})


def has_gyro(trials) -> bool:
    """True if any recording of the trials has a gyroscope (an IMU dataset, not pads alone)."""
    return any(r.has_gyro for t in trials for r in t.recs.values())


LOADERS = {
    "gaitmap": load_gaitmap,
    "moticon": load_moticon,
    "voisard2023": load_voisard,
    "gaitpdb": load_gaitpdb,
    "truong2019": load_truong,
}


def load_all(root: Path, names=None) -> list:
    """Every trial of the named datasets (all when None)."""
    trials = []
    for name in names or LOADERS:
        if not (root / name).is_dir():
            raise DatasetError(f"{root / name}: dataset folder missing")
        trials.extend(LOADERS[name](root))
    return trials
