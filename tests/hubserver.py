#!/usr/bin/env python3
"""hubserver.py — a loopback stand-in for a Hugging Face hub, for test_hub.c.

Serves one model directory (read-only, never modified) as repository REPO at
revision "main" (and at its fake commit sha), speaking the subset of the hub's
HTTP API that `blend model pull` uses:

  GET /api/models/REPO/revision/REV[?blobs=true]
      JSON {"id", "sha", "siblings": [{"rfilename", "blobId", "size",
      "lfs": {"sha256", "size", "pointerSize"}}]}; size/lfs/blobId only with
      blobs=true, as on the real hub. *.safetensors files are LFS files; the
      listing also names pytorch_model.bin and onnx/model.onnx (never served:
      a request for them is logged, so the test can assert none happened).
  GET /REPO/resolve/REV/PATH
      LFS files: 302 redirect to /blobs/<sha256> (like the hub's CDN redirect);
      other files: 200 with the content. Range requests are honoured.
  GET /blobs/<sha256>   the LFS content, with Range support (206 / 416).

Errors carry X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound,
GatedRepo) like the hub. Only binds 127.0.0.1. Prints the port on the first
line of stdout, then serves until killed.

Fault injection (each fault fires on the FIRST body request of --fault-file,
default model.safetensors, then the server behaves normally):
  --cut-after N     send the headers and N bytes, then close the connection
  --stall-after N   send N bytes, then stop sending (hold the connection)
  --corrupt-at N    always serve the file with byte N flipped (every request)
  --status CODE     answer that file's requests with HTTP CODE (every request)
  --ignore-range    answer Range requests with 200 and the whole file
  --control PATH    before each resolve request, read PATH (if it exists):
                    lines "FILE CODE" answer FILE with HTTP CODE, so one
                    server can play several failures in turn
  --token TOK       require "Authorization: Bearer TOK" (else 401), except
                    on /blobs/ (the CDN's URLs are signed, not token-checked)
  --cdn-host NAME   redirect LFS files to http://NAME:PORT/blobs/... (e.g.
                    "localhost": a different host name, still loopback)
  --no-safetensors  hide *.safetensors from the listing and the resolver
  --log PATH        append one line per request: "METHOD PATH range=<Range>"
"""
import argparse
import hashlib
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit, parse_qs

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def load_repo(root, no_safetensors):
    files = {}
    for dirpath, _, names in os.walk(root):
        for n in sorted(names):
            full = os.path.join(dirpath, n)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            if no_safetensors and rel.endswith(".safetensors"):
                continue
            with open(full, "rb") as f:
                data = f.read()
            files[rel] = data
    return files


def git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class State:
    def __init__(self, args):
        self.args = args
        self.files = load_repo(args.root, args.no_safetensors)
        self.lock = threading.Lock()
        self.fault_fired = False
        self.sha = {p: hashlib.sha256(d).hexdigest() for p, d in self.files.items()}
        self.by_sha = {self.sha[p]: p for p in self.files if self.is_lfs(p)}

    @staticmethod
    def is_lfs(path):
        return path.endswith(".safetensors")

    def served_bytes(self, path):
        data = self.files[path]
        a = self.args
        if a.corrupt_at is not None and path == a.fault_file and a.corrupt_at < len(data):
            b = bytearray(data)
            b[a.corrupt_at] ^= 0xFF
            data = bytes(b)
        return data

    def take_fault(self, path):
        """The one-shot fault for this request, or None."""
        a = self.args
        if path != a.fault_file or (a.cut_after is None and a.stall_after is None):
            return None
        with self.lock:
            if self.fault_fired:
                return None
            self.fault_fired = True
        return ("cut", a.cut_after) if a.cut_after is not None else ("stall", a.stall_after)

    def info(self, blobs):
        sib = []
        for p in sorted(self.files):
            d = self.files[p]
            e = {"rfilename": p}
            if blobs:
                if self.is_lfs(p):
                    pointer = ("version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n"
                               % (self.sha[p], len(d))).encode()
                    e["blobId"] = git_blob_sha1(pointer)
                    e["size"] = len(d)
                    e["lfs"] = {"sha256": self.sha[p], "size": len(d), "pointerSize": len(pointer)}
                else:
                    e["blobId"] = git_blob_sha1(d)
                    e["size"] = len(d)
            sib.append(e)
        for extra in ("pytorch_model.bin", "onnx/model.onnx"):
            e = {"rfilename": extra}
            if blobs:
                e.update({"blobId": "0" * 40, "size": 1234,
                          "lfs": {"sha256": "0" * 64, "size": 1234, "pointerSize": 130}})
            sib.append(e)
        sib.sort(key=lambda e: e["rfilename"])
        return {"_id": "fake", "id": self.args.repo, "modelId": self.args.repo, "sha": COMMIT,
                "private": False, "tags": [], "siblings": sib}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hubserver/1"

    def log_message(self, fmt, *args):  # quiet; requests go to --log instead
        pass

    def log_request_line(self):
        st = self.server.state
        if st.args.log:
            with st.lock, open(st.args.log, "a") as f:
                f.write("%s %s range=%s auth=%s\n" % (self.command, self.path,
                        self.headers.get("Range", "-"),
                        "yes" if self.headers.get("Authorization") else "no"))

    def error(self, code, ecode, msg):
        body = json.dumps({"error": msg}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if ecode:
            self.send_header("X-Error-Code", ecode)
        self.send_header("X-Error-Message", msg)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.log_request_line()
        st = self.server.state
        a = st.args
        # /blobs/ stands for the CDN: its URLs need no token (the hub signs them)
        if (a.token is not None and not self.path.startswith("/blobs/")
                and self.headers.get("Authorization") != "Bearer " + a.token):
            return self.error(401, "GatedRepo" if self.headers.get("Authorization") is None
                              else None, "Invalid credentials in Authorization header")
        u = urlsplit(self.path)
        path = unquote(u.path)
        api = "/api/models/"
        if path.startswith(api):
            rest = path[len(api):]
            if "/revision/" in rest:
                repo, rev = rest.split("/revision/", 1)
            else:
                repo, rev = rest, "main"
            if repo != a.repo:
                return self.error(404, "RepoNotFound", "Repository not found")
            if rev not in ("main", COMMIT):
                return self.error(404, "RevisionNotFound", "Invalid rev id: " + rev)
            blobs = parse_qs(u.query).get("blobs", ["false"])[0] == "true"
            body = json.dumps(st.info(blobs)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if path.startswith("/blobs/"):
            sha = path[len("/blobs/"):]
            if sha not in st.by_sha:
                return self.error(404, "EntryNotFound", "no such blob")
            return self.send_file(st.by_sha[sha])
        prefix = "/" + a.repo + "/resolve/"
        if not path.startswith(prefix):
            return self.error(404, "RepoNotFound", "Repository not found")
        rev, _, fpath = path[len(prefix):].partition("/")
        if rev not in ("main", COMMIT):
            return self.error(404, "RevisionNotFound", "Invalid rev id: " + rev)
        if fpath not in st.files:
            return self.error(404, "EntryNotFound", "Entry not found")
        if a.status is not None and fpath == a.fault_file:
            return self.error(a.status, None, "injected failure")
        if a.control and os.path.exists(a.control):
            with open(a.control) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 2 and parts[0] == fpath:
                        return self.error(int(parts[1]), None, "injected failure")
        if st.is_lfs(fpath):
            self.send_response(302)
            loc = "/blobs/" + st.sha[fpath]
            if a.cdn_host:  # another host name for this server, like the hub's CDN
                loc = "http://%s:%d%s" % (a.cdn_host, self.server.server_address[1], loc)
            self.send_header("Location", loc)
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("X-Linked-Size", str(len(st.files[fpath])))
            self.send_header("X-Linked-Etag", '"%s"' % st.sha[fpath])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        return self.send_file(fpath)

    def send_file(self, fpath):
        st = self.server.state
        data = st.served_bytes(fpath)
        size = len(data)
        start, end = 0, size - 1
        rng = None if st.args.ignore_range else self.headers.get("Range")
        status = 200
        if rng:
            try:
                unit, spec = rng.split("=", 1)
                s, _, e = spec.partition("-")
                if unit.strip() != "bytes" or "," in spec:
                    raise ValueError
                start = int(s)
                end = int(e) if e else size - 1
            except ValueError:
                start, end = 0, size - 1
            else:
                if start >= size:
                    self.send_response(416)
                    self.send_header("Content-Range", "bytes */%d" % size)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                end = min(end, size - 1)
                status = 206
        body = data[start:end + 1]
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", '"%s"' % st.sha[fpath])
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        self.end_headers()
        fault = st.take_fault(fpath)
        if fault is None:
            self.wfile.write(body)
            return
        kind, n = fault
        self.wfile.write(body[:n])
        self.wfile.flush()
        if kind == "stall":
            time.sleep(3600)  # the client's stall timeout must give up first
        self.close_connection = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", required=True)
    ap.add_argument("--repo", default="test/bert-tiny")
    ap.add_argument("--fault-file", default="model.safetensors")
    ap.add_argument("--cut-after", type=int)
    ap.add_argument("--stall-after", type=int)
    ap.add_argument("--corrupt-at", type=int)
    ap.add_argument("--status", type=int)
    ap.add_argument("--ignore-range", action="store_true")
    ap.add_argument("--control")
    ap.add_argument("--cdn-host")
    ap.add_argument("--token")
    ap.add_argument("--no-safetensors", action="store_true")
    ap.add_argument("--log")
    args = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.state = State(args)
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
