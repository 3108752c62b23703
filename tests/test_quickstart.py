"""The README's quickstart works as written: `dev/quickstart` (the script the README shows, whole)
runs line by line against a real `tampere serve` on a fresh data dir, and ends with a Kenyan
alert routed to the ITU Regional Office for Africa and seen on that office's event stream."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import httpx

from tests.conftest import start_server, stop_server

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "dev" / "quickstart"
README = ROOT / "README.md"


def readme_block(marker: str) -> str:
    """What stands between `<!-- marker:begin -->` and `<!-- marker:end -->` in the README (inside
    its code fence, when it has one)."""
    text = README.read_text(encoding="utf-8")
    fenced = rf"<!-- {marker}:begin -->\n(?:```\w*\n)?(.*?)(?:```\n)?<!-- {marker}:end -->"
    found = re.search(fenced, text, re.S)
    assert found, f"README has no {marker} block"
    return found.group(1)


def test_the_readme_shows_the_quickstart_script_whole() -> None:
    assert readme_block("quickstart") == SCRIPT.read_text(encoding="utf-8")


def test_the_quickstart_routes_a_kenyan_alert_to_addis_ababa_and_its_stream(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    env = {
        **os.environ,
        "TAMPERE_DATA_DIR": str(data_dir),
        "TAMPERE_DATABASE_URL": "",
        "TAMPERE_POLL_ENABLED": "false",
    }
    log = tmp_path / "serve.log"
    proc, base = start_server(env, log)
    try:
        # `bash -x`: every line of the script is traced as it runs; any failing line stops it.
        done = subprocess.run(
            ["bash", "-x", str(SCRIPT)],
            env={**env, "TAMPERE_URL": base},
            cwd=tmp_path,  # the script finds the repository from its own path
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr[-4000:]
        out = done.stdout
        # Routed: the alert over Nairobi goes to the Regional Office for Africa.
        alert_id = int(re.search(r"^alert (\d+): countries \['KEN'\], regions \['Africa'\]$", out, re.M)[1])
        assert re.search(r"^  routed to ro-addis-ababa \(", out, re.M), out
        # Before a cell layer: the sites are not known, and the layers missing are named.
        assert "cell sites: not known; layers missing: ['opencellid', 'ookla', 'cables', 'population']" in out
        # Seen on the office's websocket: the event line the office's stream printed.
        events = [json.loads(line) for line in out.splitlines() if line.startswith('{"id"')]
        assert [(e["type"], e["alert_id"]) for e in events] == [("alert.received", alert_id)]
        # The sample layer: ten of its twelve invented sites stand inside the alert's area.
        assert "cell sites now: 10 " in out
        # The web app answers where the script says (503 `webapp.not-built` without web/dist).
        built = (ROOT / "web" / "dist" / "index.html").is_file()
        assert f"web app: {base}/ (HTTP {200 if built else 503})" in out
        # Every step ran: the trace holds each command of the script's steps.
        steps = ("tampere token create", "tampere validate", "curl", "tampere events", "tampere layer import")
        for command in steps:
            assert f"+ {command}" in done.stderr or f"++ {command}" in done.stderr, command
        # And the service agrees, asked directly.
        alert = httpx.get(f"{base}/api/v1/alerts/{alert_id}", timeout=10).json()
        assert alert["countries"] == ["KEN"] and alert["impact"]["sites"]["total"] == 10
        # A token from another store is refused by the stream with the reason, and on REST with
        # the way to get a good one.
        refused = subprocess.run(
            ["tampere", "events", base, "--token", "not-a-token", "--idle", "2"],
            env={**env, "PATH": f"{ROOT / '.venv' / 'bin'}:{env['PATH']}"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert refused.returncode == 1 and "closed by the service (4401)" in refused.stderr, refused.stderr
        unknown = httpx.get(f"{base}/api/v1/requests", headers={"Authorization": "Bearer not-a-token"})
        assert unknown.status_code == 401 and "tampere token create" in unknown.json()["errors"][0]["message"]
    finally:
        stop_server(proc)
    # `tampere serve` said where it listens, its data dir and the next commands.
    served = log.read_text()
    assert f"data dir {data_dir.resolve()} (TAMPERE_DATA_DIR)" in served
    assert "web app" in served and "tampere token create --role administration" in served
