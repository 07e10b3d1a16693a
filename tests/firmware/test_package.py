"""package.json (for `mpremote mip install`) lists exactly the firmware files."""

import json

from helpers import FIRMWARE, ROOT


def test_package_json_lists_every_firmware_file():
    pkg = json.loads((ROOT / "package.json").read_text())
    listed = {dest: src for dest, src in pkg["urls"]}
    assert set(listed) == {f.name for f in FIRMWARE.glob("*.py")}
    for dest, src in listed.items():
        assert (ROOT / src).is_file() and src == f"firmware/{dest}"
    # no version of its own: the one version is VERSION in firmware/app.py (mip does not need one)
    assert "version" not in pkg
