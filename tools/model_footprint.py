"""Resident memory of the Rasa server and the action server for a model after a few turns, and whether the Rasa
server has TensorFlow loaded (its shared library mapped into the process).

  .venv/bin/python -m tools.model_footprint MODEL.tar.gz [MODEL2.tar.gz ...]
"""

from __future__ import annotations

import json
import sys
import tempfile
import urllib.request
from pathlib import Path

from bot.servers import AssistantServers

TURNS = ["hi", "i'm at kingsmeadow", "i'm a teacher", "can teachers add pupils on snapchat", "what about parents?",
         "who is the dsl", "tell me a joke", "thanks bye"]


def say(url: str, sender: str, text: str) -> list:
    request = urllib.request.Request(url, data=json.dumps({"sender": sender, "message": text}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def tensorflow_mapped(pid: int) -> bool:
    maps = Path(f"/proc/{pid}/maps").read_text(errors="replace")
    return "libtensorflow" in maps or "_pywrap_tensorflow" in maps


def main(argv: list[str]) -> int:
    for model in argv:
        with tempfile.TemporaryDirectory() as tmp, AssistantServers(Path(model), Path(tmp)) as servers:
            for turn in TURNS:
                say(servers.webhook_url, "footprint", turn)
            rss = servers.rss_mb()
            tf = tensorflow_mapped(servers.processes[1].pid)
            print(f"{model}: " + ", ".join(f"{name} {mb:.0f} MB" for name, mb in rss.items())
                  + f", total {sum(rss.values()):.0f} MB; TensorFlow loaded in the Rasa server: {tf}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
