#!/usr/bin/env python3
"""bench/serve_writes.py — blend serve with writes under load, and kill -9.

  bench/serve_writes.py BLEND_BIN INDEX_DIR PATHS_TXT [SECONDS]

Phase 1: wrk (2 threads, 32 connections) runs lexical GET /search for
SECONDS while this script adds 100 documents per second (one POST /docs of
100 JSON lines each second; the server's --commit-interval 1 commits them).
Afterwards every acknowledged document must be found by GET /docs/{id} and
by a search for its unique word (every one of them).
Phase 2: documents are posted with ?commit=true in a loop; the server is
killed with SIGKILL mid-stream, restarted, and every write acknowledged
(HTTP 200) before the kill must be present.
INDEX_DIR is modified (use a copy)."""
import json, os, re, signal, subprocess, sys, threading, time, urllib.request, urllib.error

blend, index, paths = sys.argv[1], sys.argv[2], sys.argv[3]
secs = int(sys.argv[4]) if len(sys.argv) > 4 else 30
here = os.path.dirname(os.path.abspath(__file__))

def start():
    p = subprocess.Popen([blend, "serve", "--index", index, "--port", "0", "--threads", "2",
                          "--commit-interval", "1"], stderr=subprocess.PIPE, text=True)
    line = p.stderr.readline()
    port = int(re.search(r"127\.0\.0\.1:(\d+)/", line).group(1))
    return p, port

def req(port, method, path, body=None):
    r = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method)
    try:
        with urllib.request.urlopen(r, timeout=30) as f:
            return f.status, f.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, ConnectionError):
        return 0, b""  # the connection died (phase 2 kills the server)

def doc(i):
    return {"_id": f"w{i}", "title": f"written {i}", "text": f"zq{i}x appended while searching"}

def rss(pid):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS"):
            return int(l.split()[1])

# ---- phase 1
srv, port = start()
acked, stop = [], threading.Event()
def writer():
    i = 0
    while not stop.is_set():
        t0 = time.time()
        batch = [doc(i + k) for k in range(100)]
        st, _ = req(port, "POST", "/docs", "\n".join(json.dumps(d) for d in batch).encode())
        if st == 200:
            acked.extend(d["_id"] for d in batch)
        i += 100
        time.sleep(max(0, 1 - (time.time() - t0)))
th = threading.Thread(target=writer)
th.start()
env = dict(os.environ, BLEND_PATHS=paths)
out = subprocess.run(["wrk", "-t2", "-c32", f"-d{secs}s", "--latency", "-s", os.path.join(here, "serve_wrk.lua"),
                      f"http://127.0.0.1:{port}"], capture_output=True, text=True, env=env).stdout
stop.set()
th.join()
print([l for l in out.splitlines() if l.startswith("wrk-summary")][0])
req(port, "POST", "/commit")
missing = [i for i in acked if req(port, "GET", "/docs/" + i)[0] != 200]
unsearchable = [i for i in acked
                if json.loads(req(port, "GET", f"/search?q=zq{i[1:]}x&source=false")[1])["hits"]["total"]["value"] != 1]
print(f"writes: acknowledged={len(acked)} docs in {secs}s, missing_after={len(missing)}, "
      f"unsearchable={len(unsearchable)}/{len(acked)}, rss_kb={rss(srv.pid)}")
srv.send_signal(signal.SIGTERM)
srv.wait()

# ---- phase 2: kill -9 during writes
srv, port = start()
acked2, n = [], 0
t_kill = time.time() + 3
while time.time() < t_kill:
    batch = [doc(10_000_000 + n + k) for k in range(20)]
    st, _ = req(port, "POST", "/docs?commit=true", "\n".join(json.dumps(d) for d in batch).encode())
    if st == 200:
        acked2.extend(d["_id"] for d in batch)
    n += 20
    if time.time() > t_kill - 0.5:
        # the kill lands while a write may be in flight
        threading.Thread(target=req, args=(port, "POST", "/docs?commit=true",
                         "\n".join(json.dumps(doc(20_000_000 + k)) for k in range(20)).encode())).start()
        time.sleep(0.01)
        os.kill(srv.pid, signal.SIGKILL)
        break
srv.wait()
srv, port = start()
lost = [i for i in acked2 if req(port, "GET", "/docs/" + i)[0] != 200]
print(f"kill -9: acknowledged (committed) before the kill={len(acked2)}, missing after restart={len(lost)}")
srv.send_signal(signal.SIGTERM)
srv.wait()
