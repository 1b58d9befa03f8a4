#!/usr/bin/env python3
"""The README's screenshot: the dashboard of a 2-core stairkv after SECONDS under load.
Usage: screenshot.py HTTP_PORT SECONDS OUT.png  (chromedriver and chromium from Debian)."""
import base64, json, os, socket, subprocess, sys, tempfile, time, urllib.request

port, secs, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
s = socket.socket(); s.bind(("127.0.0.1", 0)); dport = s.getsockname()[1]; s.close()
drv = subprocess.Popen(["chromedriver", f"--port={dport}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
base = f"http://127.0.0.1:{dport}"

def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))["value"]

sid = None
try:
    for _ in range(100):
        try:
            if call("GET", "/status")["ready"]:
                break
        except OSError:
            time.sleep(0.1)
    args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tempfile.mkdtemp()}", "--window-size=1600,1150", "--hide-scrollbars"]
    sid = call("POST", "/session", {"capabilities": {"alwaysMatch": {
        "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args}}}})["sessionId"]
    call("POST", f"/session/{sid}/url", {"url": f"http://127.0.0.1:{port}/"})
    time.sleep(secs)
    png = base64.b64decode(call("GET", f"/session/{sid}/screenshot"))
    open(out, "wb").write(png)
finally:
    # Closing the session ends the browser; killing only the driver would leave it running.
    if sid:
        try:
            call("DELETE", f"/session/{sid}")
        except OSError:
            pass
    drv.kill()
