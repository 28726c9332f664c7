#!/usr/bin/env python3
"""A forward proxy for image builds in the test sandbox, which has no route out.

tests/sandbox runs it on the host, bound to the host's end of the sandbox's veth pair only.
It lets through CONNECT to the HOST:PORT pairs of --connect (npm's registry) and plain HTTP
requests to the hosts of --http (Debian's mirror), one request per connection, and refuses
everything else.  Each decision is a line of --log.  It exits when process --watch-pid does
(the sandbox's systemd), so a sandbox that dies without a halt leaves no proxy behind.

  build-proxy.py --listen ADDR:PORT --connect HOST:PORT[,...] --http HOST[,...]
                 --log FILE [--watch-pid PID] [--pidfile FILE]
"""
import argparse
import os
import socket
import socketserver
import sys
import threading
import time

MAX_HEAD = 64 * 1024
log_lock = threading.Lock()
log_file = None


def log(verdict, what, peer):
    line = "%s %s %s from %s\n" % (time.strftime("%H:%M:%S"), verdict, what, peer)
    with log_lock:
        log_file.write(line)
        log_file.flush()


def read_head(sock):
    """The request's head (up to the blank line) and whatever came after it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None, b""
        data += chunk
        if len(data) > MAX_HEAD:
            return None, b""
    head, rest = data.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def pump(src, dst):
    try:
        while True:
            chunk = src.recv(65536)
            if not chunk:
                break
            dst.sendall(chunk)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def host_port(authority, default_port):
    if authority.startswith("["):
        return None, None  # no IP literals: names only
    host, _, port = authority.partition(":")
    try:
        return host.lower(), int(port) if port else default_port
    except ValueError:
        return None, None


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        client = self.request
        peer = self.client_address[0]
        head, rest = read_head(client)
        if head is None:
            return
        lines = head.split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            log("REFUSE", repr(lines[0][:200]), peer)
            client.sendall(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
            return
        method, target, version = parts
        if method == "CONNECT":
            host, port = host_port(target, 443)
            if (host, port) not in self.server.connect_allowed:
                return self.refuse("CONNECT " + target, peer)
            try:
                upstream = socket.create_connection((host, port), timeout=30)
            except OSError as e:
                log("FAIL", "CONNECT %s: %s" % (target, e), peer)
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
                return
            upstream.settimeout(None)
            log("ALLOW", "CONNECT " + target, peer)
            client.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            if rest:
                upstream.sendall(rest)
            t = threading.Thread(target=pump, args=(client, upstream), daemon=True)
            t.start()
            pump(upstream, client)
            t.join()
            upstream.close()
            return
        if not target.startswith("http://"):
            return self.refuse("%s %s" % (method, target[:200]), peer)
        authority, slash, path = target[len("http://"):].partition("/")
        host, port = host_port(authority, 80)
        if host not in self.server.http_allowed or port != 80:
            return self.refuse("%s %s" % (method, target[:200]), peer)
        # One request per connection: its head in origin form with Connection: close, its body
        # by Content-Length, then the response until the server closes.
        headers = []
        length = 0
        for h in lines[1:]:
            name = h.split(":", 1)[0].strip().lower()
            if name in ("connection", "proxy-connection", "keep-alive", "proxy-authorization"):
                continue
            if name == "transfer-encoding":
                return self.refuse("%s %s (chunked body)" % (method, target[:200]), peer)
            if name == "content-length":
                try:
                    length = int(h.split(":", 1)[1])
                except ValueError:
                    return self.refuse("%s %s (bad length)" % (method, target[:200]), peer)
            headers.append(h)
        try:
            upstream = socket.create_connection((host, 80), timeout=30)
        except OSError as e:
            log("FAIL", "%s %s: %s" % (method, target[:200], e), peer)
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
            return
        log("ALLOW", "%s %s" % (method, target[:200]), peer)
        out = "%s /%s %s\r\n%s\r\nConnection: close\r\n\r\n" % (method, path, version, "\r\n".join(headers))
        upstream.sendall(out.encode("latin-1") + rest[:length])
        length -= min(length, len(rest))
        while length > 0:
            chunk = client.recv(min(length, 65536))
            if not chunk:
                break
            upstream.sendall(chunk)
            length -= len(chunk)
        upstream.settimeout(300)
        pump(upstream, client)
        upstream.close()

    def refuse(self, what, peer):
        log("REFUSE", what, peer)
        body = b"moat build-proxy: not allowed\n"
        self.request.sendall(b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/plain\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def watch(pid):
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            log("EXIT", "watched process %d is gone" % pid, "-")
            os._exit(0)
        except PermissionError:
            pass
        time.sleep(1)


def main():
    global log_file
    p = argparse.ArgumentParser()
    p.add_argument("--listen", required=True)
    p.add_argument("--connect", default="")
    p.add_argument("--http", default="")
    p.add_argument("--log", required=True)
    p.add_argument("--watch-pid", type=int)
    p.add_argument("--pidfile")
    a = p.parse_args()
    addr, _, port = a.listen.rpartition(":")
    log_file = open(a.log, "a")
    server = Server((addr, int(port)), Handler)
    server.connect_allowed = set()
    for item in filter(None, a.connect.split(",")):
        h, _, pt = item.rpartition(":")
        server.connect_allowed.add((h.lower(), int(pt)))
    server.http_allowed = set(h.lower() for h in filter(None, a.http.split(",")))
    if a.pidfile:
        with open(a.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())
    log("START", "listening on %s; CONNECT to %s; HTTP to %s" % (a.listen, a.connect, a.http), "-")
    if a.watch_pid:
        threading.Thread(target=watch, args=(a.watch_pid,), daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
