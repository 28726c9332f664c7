#!/usr/bin/env python3
"""fake-model-api.py - a fake Anthropic / OpenAI / Gemini model API for moat's tests.

Python 3 standard library only.

    fake-model-api.py --listen ADDR:PORT [--listen ADDR:PORT ...] \
        --cert CRT --key KEY --log FILE [--bodies FILE] [--plain]

Serves HTTPS (TLS with CRT/KEY; --plain serves plain HTTP, for debugging) on every
--listen address. Requests are routed by path only, whatever the Host header says.

Answers (deterministic, checkable):
  Anthropic  POST /v1/messages[?beta=true]        "FAKE-ANTHROPIC-ANSWER turn=N"
  OpenAI     POST /v1/responses                   "FAKE-OPENAI-ANSWER turn=N"
  Gemini     POST /v1beta/models/M:generateContent / :streamGenerateContent
                                                  "FAKE-GEMINI-ANSWER turn=N"
N is the number of user turns in the request: messages from the user that carry
text the user typed.  Rule (the same for the three APIs): a user-role message
counts when at least one of its text parts, stripped, is non-empty and does not
start with "<" (Claude Code's <system-reminder>, <command-name>, <local-command-...>;
Codex's <environment_context>, <user_instructions>, <permissions ...>), "# AGENTS.md",
"Caveat:" (Claude Code) or "This is the Gemini CLI." (gemini-cli's setup message);
tool results (Anthropic tool_result blocks, OpenAI function_call_output items,
Gemini functionResponse parts) never count.  So the first prompt of a session
gives turn=1 and a resumed session's second prompt gives turn=2.

Tool use: when the last user text contains "MOAT-WRITE <path> <text...>" and the
request is not already answering a tool call, the model asks the agent to run a
shell command that writes <text> into <path>:
  Anthropic: a tool_use block for the agent's "Bash" tool (Claude Code)
  OpenAI:    codex 0.171 offers one freeform tool "exec" (JavaScript that calls nested
             tools): a custom_tool_call running tools.exec_command({cmd}); older shapes
             (function "exec_command" / "shell_command" / "shell") are handled too
  Gemini:    a functionCall to "run_shell_command" (gemini-cli)
After the tool result comes back the model answers normally, with " wrote=<path>"
appended (whether or not the command succeeded: check the file itself).  The file
ends up owned by whoever the agent runs as.

Everything else Claude Code / Codex / gemini-cli call (policy limits, settings,
bootstrap, feature flags, event logging, models list, count tokens, ...) gets a
small JSON answer that keeps the client from retrying; anything unknown gets
404 JSON.  The WebSocket attempt of Codex (GET /v1/responses with
Upgrade: websocket) gets 426 Upgrade Required (see FINDINGS for why).

Token usage (moat's request log, issue 25): every model answer carries a usage block,
10 in / 8 out by default.  A query parameter fake_usage=IN,OUT,CACHE_READ,CACHE_WRITE sets
the numbers as moat counts them (input without the cached part; the APIs' own fields are
derived from them: OpenAI's and Gemini's input includes the cached tokens, they have no
cache writes); fake_usage=malformed sends a usage block that is not JSON, fake_usage=truncated
cuts the reply inside its usage block and closes the connection.  OpenAI Chat Completions
(POST /v1/chat/completions, streamed with stream_options.include_usage) is answered too.
The log says what was sent as "usage_sent" ({input, output, cache_read, cache_write} or the
mode), and the bytes of each exchange as they crossed the wire: "req_bytes" (request line,
headers and body as received) and "resp_bytes" (status line, headers and body as sent).

Claude Code's /api/claude_code/settings gets 404 with a request-id header (= "no
remote managed settings"); every response carries a request-id header.

Log: one JSON line per request to --log, flushed per line:
  {"time", "host", "method", "path", "headers": {...as received; a repeated header
   is joined with ", "...}, "body_len", "status", "route", "answer"?, "id"}
Malformed requests are logged too (route "malformed", with "requestline").
--bodies FILE additionally logs the decoded request bodies (research aid).
"""

import argparse
import json
import os
import re
import shlex
import socket
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG_LOCK = threading.Lock()
LOG_FILE = None
BODIES_FILE = None
COUNTER = {"n": 0}
COUNTER_LOCK = threading.Lock()


def next_id():
    with COUNTER_LOCK:
        COUNTER["n"] += 1
        return COUNTER["n"]


def write_log(fp, obj):
    if fp is None:
        return
    line = json.dumps(obj, sort_keys=False, ensure_ascii=False)
    with LOG_LOCK:
        fp.write(line + "\n")
        fp.flush()


# ---------------------------------------------------------------- turn counting

SKIP_PREFIXES = ("<", "# AGENTS.md", "Caveat:", "This is the Gemini CLI.")


def is_user_text(t):
    if not isinstance(t, str):
        return False
    s = t.strip()
    return bool(s) and not s.startswith(SKIP_PREFIXES)


def content_texts(c, types):
    """The texts of a message's content: a string, or the parts whose type is in TYPES."""
    if isinstance(c, str):
        return [c]
    if not isinstance(c, list):
        return []
    return [p.get("text", "") for p in c if isinstance(p, dict) and p.get("type") in types]


def anthropic_user_texts(msg):
    """Texts of one Anthropic message (role user); [] for tool results only."""
    return content_texts(msg.get("content"), ("text",))


def anthropic_turns(body):
    n = 0
    for m in body.get("messages") or []:
        if isinstance(m, dict) and m.get("role") == "user":
            if any(is_user_text(t) for t in anthropic_user_texts(m)):
                n += 1
    return n


def openai_user_texts(item):
    return content_texts(item.get("content"), ("input_text", "text"))


def openai_turns(body):
    inp = body.get("input")
    if isinstance(inp, str):
        return 1
    n = 0
    for it in inp or []:
        if isinstance(it, dict) and it.get("role") == "user" and it.get("type", "message") == "message":
            if any(is_user_text(t) for t in openai_user_texts(it)):
                n += 1
    return n


def gemini_user_texts(content):
    out = []
    for p in content.get("parts") or []:
        if isinstance(p, dict) and "text" in p and not p.get("thought"):
            out.append(p.get("text"))
    return out


def gemini_turns(body):
    n = 0
    for c in body.get("contents") or []:
        if isinstance(c, dict) and c.get("role", "user") == "user":
            if any(is_user_text(t) for t in gemini_user_texts(c)):
                n += 1
    return n


WRITE_RE = re.compile(r"MOAT-WRITE\s+(\S+)\s+([^\n]*)")


def write_request(text):
    """(path, content) when text asks for a file write, else None."""
    if not isinstance(text, str):
        return None
    m = WRITE_RE.search(text)
    if not m:
        return None
    content = m.group(2).strip()
    # Claude Code appends nothing to the prompt, but be tolerant of quotes.
    return m.group(1), content


def shell_write_command(path, content):
    return "printf '%%s\\n' %s > %s" % (shlex.quote(content), shlex.quote(path))


# ---------------------------------------------------------------- handler


class Counting:
    """A file object that counts the bytes that go through it."""

    def __init__(self, f):
        self.f = f
        self.n = 0

    def read(self, *a):
        d = self.f.read(*a)
        self.n += len(d)
        return d

    def readline(self, *a):
        d = self.f.readline(*a)
        self.n += len(d)
        return d

    def write(self, d):
        self.n += len(d)
        return self.f.write(d)

    def __getattr__(self, name):
        return getattr(self.f, name)


class Truncate(Exception):
    """The reply was cut on purpose (fake_usage=truncated): close the connection."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-model-api/1"
    sys_version = ""
    timeout = 300

    def log_message(self, fmt, *args):  # silence stderr access log
        pass

    def setup(self):
        super().setup()
        self.rfile = Counting(self.rfile)
        self.wfile = Counting(self.wfile)

    def handle_one_request(self):
        # each exchange's bytes from its request line on
        self.rfile.n = 0
        self.wfile.n = 0
        super().handle_one_request()

    # -- usage (fake_usage=IN,OUT,CACHE_READ,CACHE_WRITE | malformed | truncated)
    def fake_usage(self):
        q = self.path.split("?", 1)[1] if "?" in self.path else ""
        for kv in q.split("&"):
            k, _, v = kv.partition("=")
            if k == "fake_usage":
                if v in ("malformed", "truncated"):
                    self.usage_sent = v
                    return v
                try:
                    n = [int(x) for x in v.split(",")]
                    if len(n) == 4:
                        u = {"input": n[0], "output": n[1], "cache_read": n[2], "cache_write": n[3]}
                        self.usage_sent = u
                        return u
                except ValueError:
                    pass
        u = {"input": 10, "output": 8, "cache_read": 0, "cache_write": 0}
        self.usage_sent = u
        return u

    def send_raw_json(self, status, data, length=None):
        """A JSON reply whose body is DATA as given (malformed on purpose); LENGTH may say more."""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(length if length is not None else len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
        self.status = status
        if length is not None and length > len(data):
            raise Truncate()

    def usage_json(self, obj, usage):
        """OBJ (a whole reply whose usage block is last) as sent for USAGE's mode."""
        if isinstance(usage, dict):
            return self.send_json(200, obj)
        data = json.dumps(obj).encode()
        cut = data.rfind(b'"usage') if b'"usage' in data else len(data) - 2
        if usage == "malformed":
            return self.send_raw_json(200, data[:cut] + b'"usage": {"input_tokens": 1O, "output_tokens": }}')
        return self.send_raw_json(200, data[:cut + 12], length=len(data))

    def usage_event(self, event, obj, usage):
        """The stream's last event, the one with the usage, as sent for USAGE's mode."""
        if isinstance(usage, dict):
            return self.sse(event, obj)
        text = json.dumps(obj)
        head = ("event: %s\n" % event) if event else ""
        if usage == "malformed":
            return self.chunk(head + "data: " + text[:len(text) // 2] + "}}}\n\n")
        self.chunk(head + "data: " + text[:len(text) // 2])
        raise Truncate()

    # -- plumbing
    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    break
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # trailers until empty line
                    while True:
                        t = self.rfile.readline(65537)
                        if not t or t in (b"\r\n", b"\n"):
                            break
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        n = self.headers.get("Content-Length")
        if n:
            n = int(n)
            if n < 0 or n > 256 * 1024 * 1024:
                raise ValueError("bad content-length")
            return self.rfile.read(n)
        return b""

    def decode_body(self, raw):
        enc = (self.headers.get("Content-Encoding") or "").lower()
        try:
            if enc == "gzip":
                import gzip
                raw = gzip.decompress(raw)
            elif enc == "deflate":
                import zlib
                raw = zlib.decompress(raw)
            elif enc == "br":
                return None
            elif enc == "zstd":
                return None
        except Exception:
            return None
        return raw

    def send_json(self, status, obj, extra_headers=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if "request-id" not in (extra_headers or {}):
            # Claude Code treats a 204/404 without Anthropic's request-id header as
            # "an intermediary's answer" (remote settings keep failing)
            self.send_header("request-id", "req_fake%s" % uuid.uuid4().hex[:16])
        for k, v in (extra_headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.status = status

    def start_sse(self, extra_headers=None):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for k, v in (extra_headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.status = 200

    def chunk(self, data):
        if isinstance(data, str):
            data = data.encode()
        if not data:
            return
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_chunks(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def sse(self, event, obj):
        if event:
            self.chunk("event: %s\ndata: %s\n\n" % (event, json.dumps(obj)))
        else:
            self.chunk("data: %s\n\n" % json.dumps(obj))

    def send_error(self, code, message=None, explain=None):
        # malformed request line / headers (http.server's own checks): JSON, logged
        try:
            self.close_connection = True
            data = json.dumps({"error": {"type": "bad_request", "message": message or ""}}).encode()
            self.send_response(code, message)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            if getattr(self, "command", None) != "HEAD":
                self.wfile.write(data)
        except Exception:
            pass
        write_log(LOG_FILE, {
            "time": now_iso(), "host": self.headers.get("Host") if getattr(self, "headers", None) else None,
            "method": getattr(self, "command", None), "path": getattr(self, "path", None),
            "headers": headers_dict(self.headers) if getattr(self, "headers", None) else {},
            "body_len": 0, "status": code, "route": "malformed", "id": next_id(),
            "requestline": getattr(self, "raw_requestline", b"")[:200].decode("latin-1")})

    # -- entry points
    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def do_PUT(self):
        self.handle_any()

    def do_DELETE(self):
        self.handle_any()

    def do_PATCH(self):
        self.handle_any()

    def do_HEAD(self):
        self.handle_any()

    def do_OPTIONS(self):
        self.handle_any()

    def handle_any(self):
        self.status = None
        self.route = None
        self.answer = None
        self.usage_sent = None
        rid = next_id()
        raw = b""
        err = None
        try:
            raw = self.read_body()
        except Exception as e:  # bad framing: answer 400 and close
            err = str(e)
        entry = {
            "time": now_iso(),
            "host": self.headers.get("Host"),
            "method": self.command,
            "path": self.path,
            "headers": headers_dict(self.headers),
            "body_len": len(raw),
        }
        body = None
        bad_json = False
        if err is None:
            dec = self.decode_body(raw)
            if dec:
                try:
                    body = json.loads(dec.decode("utf-8"))
                except Exception:
                    body = None
                    bad_json = True
        try:
            if err is not None:
                self.close_connection = True
                self.send_json(400, {"error": {"type": "bad_request", "message": err}})
                self.route = "bad-request"
            elif bad_json and self.command == "POST" and is_model_path(self.path):
                self.send_json(400, {"type": "error", "error": {
                    "type": "invalid_request_error", "message": "request body is not JSON"}})
                self.route = "bad-json"
            else:
                if not isinstance(body, dict) and is_model_path(self.path):
                    body = {}
                self.dispatch(body)
        except Truncate:
            self.close_connection = True
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout):
            self.close_connection = True
        except Exception as e:
            self.close_connection = True
            entry["error"] = repr(e)
            try:
                if self.status is None:
                    # malformed (but JSON) input: a 400, never a crash
                    self.send_json(400, {"type": "error", "error": {
                        "type": "invalid_request_error", "message": "fake-model-api: " + repr(e)}})
            except Exception:
                pass
        entry["status"] = self.status
        entry["route"] = self.route
        entry["req_bytes"] = self.rfile.n
        entry["resp_bytes"] = self.wfile.n
        if self.usage_sent is not None:
            entry["usage_sent"] = self.usage_sent
        if self.answer is not None:
            entry["answer"] = self.answer
        entry["id"] = rid
        write_log(LOG_FILE, entry)
        if BODIES_FILE is not None:
            b = body
            if b is None and raw:
                try:
                    b = raw.decode("utf-8", "replace")[:200000]
                except Exception:
                    b = None
            write_log(BODIES_FILE, {"id": rid, "host": entry["host"], "method": self.command,
                                    "path": self.path, "body": b})

    # -- routing
    def dispatch(self, body):
        path = self.path.split("?", 1)[0]
        q = self.path.split("?", 1)[1] if "?" in self.path else ""
        m = self.command
        up = (self.headers.get("Upgrade") or "").lower()
        if up == "websocket":
            # Codex tries the Responses API over WebSocket first.  426 makes it fall
            # back to HTTPS at once (see FINDINGS.md).
            self.route = "websocket-refused"
            self.close_connection = True
            return self.send_json(426, {"error": {"type": "upgrade_required",
                                                  "message": "websocket not supported by fake"}})

        # ---------------- Anthropic
        if m == "POST" and path == "/v1/messages/count_tokens":
            self.route = "anthropic-count-tokens"
            return self.send_json(200, {"input_tokens": 100})
        if m == "POST" and path == "/v1/messages":
            return self.anthropic_messages(body or {})
        if path.startswith("/api/claude_code/policy_limits"):
            self.route = "claude-policy-limits"
            return self.send_json(200, {"restrictions": {}})
        if path.startswith("/api/claude_code/settings"):
            # 404 (with a request-id header) = "no remote managed settings".  A 200 {}
            # makes interactive Claude Code warn "Remote managed settings failed to load".
            self.route = "claude-settings"
            return self.send_json(404, {"type": "error", "error": {"type": "not_found_error",
                                                                   "message": "no settings"}})
        if path.startswith("/api/claude_cli/bootstrap"):
            self.route = "claude-bootstrap"
            return self.send_json(200, {"client_data": None, "additional_model_options": []})
        if path.startswith("/api/eval/"):
            self.route = "claude-eval"
            return self.send_json(200, {"features": {}})
        if path.startswith("/api/event_logging/") or path.startswith("/api/claude_code/metrics") \
                or path.startswith("/api/claude_code/organizations/metrics_enabled"):
            self.route = "claude-telemetry"
            if "metrics_enabled" in path:
                return self.send_json(200, {"metrics_logging_enabled": False})
            return self.send_json(200, {})
        if path.startswith("/api/oauth/"):
            self.route = "claude-oauth"
            if path.startswith("/api/oauth/profile"):
                return self.send_json(200, {
                    "account": {"uuid": "00000000-0000-4000-8000-000000000001",
                                "email": "fake@example.invalid", "full_name": "Fake",
                                "display_name": "Fake", "has_claude_max": True,
                                "has_claude_pro": False},
                    "organization": {"uuid": "00000000-0000-4000-8000-000000000002",
                                     "name": "Fake Org", "organization_type": "claude_max",
                                     "billing_type": "stripe_subscription",
                                     "rate_limit_tier": "default_claude_max_20x"}})
            if path.startswith("/api/oauth/claude_cli/roles"):
                return self.send_json(200, {"organization_role": "admin", "workspace_role": None,
                                            "organization_name": "Fake Org"})
            return self.send_json(200, {})
        if path.startswith("/api/hello") or path == "/v1/oauth/hello":
            self.route = "hello"
            return self.send_json(200, {"ok": True})
        if path in ("/v1/models", "/models") or path.startswith("/v1/models?"):
            return self.models_list()

        # ---------------- OpenAI
        if m == "POST" and path in ("/v1/responses", "/responses", "/backend-api/codex/responses"):
            return self.openai_responses(body or {})
        if m == "POST" and path in ("/v1/chat/completions", "/chat/completions"):
            return self.openai_chat(body or {})
        if m == "POST" and path in ("/v1/responses/compact", "/responses/compact"):
            self.route = "openai-compact"
            return self.send_json(200, {"output": []})

        # ---------------- Gemini
        gm = re.match(r"^/v1(?:beta|alpha|1)?/models/([^/:]+):([A-Za-z]+)$", path)
        if gm and m == "POST":
            model, action = gm.group(1), gm.group(2)
            if action == "streamGenerateContent":
                return self.gemini_generate(body or {}, model, stream=True, alt_sse="alt=sse" in q)
            if action == "generateContent":
                return self.gemini_generate(body or {}, model, stream=False)
            if action == "countTokens":
                self.route = "gemini-count-tokens"
                return self.send_json(200, {"totalTokens": 100})
            if action in ("embedContent", "batchEmbedContents"):
                self.route = "gemini-embed"
                return self.send_json(200, {"embedding": {"values": [0.0] * 8}})
        if re.match(r"^/v1(?:beta|alpha|1)?/models/?$", path):
            self.route = "gemini-models"
            return self.send_json(200, {"models": [{"name": "models/gemini-2.5-pro"},
                                                   {"name": "models/gemini-2.5-flash"}]})

        self.route = "unknown"
        return self.send_json(404, {"error": {"type": "not_found",
                                              "message": "fake-model-api: no route for %s %s" % (m, path)}})

    def models_list(self):
        self.route = "models"
        if "anthropic-version" in {k.lower() for k in self.headers.keys()}:
            return self.send_json(200, {"data": [{"type": "model", "id": "claude-sonnet-4-5",
                                                  "display_name": "Claude Sonnet 4.5",
                                                  "created_at": "2025-01-01T00:00:00Z"}],
                                        "has_more": False, "first_id": "claude-sonnet-4-5",
                                        "last_id": "claude-sonnet-4-5"})
        return self.send_json(200, {"object": "list", "data": [
            {"id": "gpt-5", "object": "model", "created": 1700000000, "owned_by": "openai"}],
            "models": []})

    # ---------------------------------------------------------------- Anthropic
    def anthropic_messages(self, body):
        self.route = "anthropic-messages"
        msgs = body.get("messages") or []
        turns = anthropic_turns(body)
        model = body.get("model") or "claude-fake"
        last = msgs[-1] if msgs else {}
        last_is_tool_result = isinstance(last.get("content"), list) and any(
            isinstance(b, dict) and b.get("type") == "tool_result" for b in last.get("content"))
        # the last user text the user typed
        last_text = ""
        for mm in reversed(msgs):
            if mm.get("role") == "user":
                ts = [t for t in anthropic_user_texts(mm) if is_user_text(t)]
                if ts:
                    last_text = ts[-1]
                    break
        tools = [t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)]
        text = "FAKE-ANTHROPIC-ANSWER turn=%d" % turns
        tool_use = None
        wr = write_request(last_text)
        if wr and not last_is_tool_result and "Bash" in tools:
            tool_use = {"type": "tool_use", "id": "toolu_fake%s" % uuid.uuid4().hex[:20],
                        "name": "Bash",
                        "input": {"command": shell_write_command(*wr),
                                  "description": "Write the requested file"}}
        elif wr and last_is_tool_result:
            text += " wrote=%s" % wr[0]
        self.answer = text if tool_use is None else "tool_use Bash"
        msg_id = "msg_fake%s" % uuid.uuid4().hex[:20]
        fu = self.fake_usage()
        n = fu if isinstance(fu, dict) else {"input": 10, "output": 8, "cache_read": 0, "cache_write": 0}
        usage_in = {"input_tokens": n["input"], "cache_creation_input_tokens": n["cache_write"],
                    "cache_read_input_tokens": n["cache_read"], "output_tokens": 1}
        stop = "tool_use" if tool_use else "end_turn"
        if not body.get("stream"):
            content = [tool_use] if tool_use else [{"type": "text", "text": text}]
            return self.usage_json({
                "id": msg_id, "type": "message", "role": "assistant", "model": model,
                "content": content, "stop_reason": stop, "stop_sequence": None,
                "usage": {"input_tokens": n["input"], "cache_creation_input_tokens": n["cache_write"],
                          "cache_read_input_tokens": n["cache_read"], "output_tokens": n["output"]}}, fu)
        self.start_sse({"request-id": "req_fake%s" % uuid.uuid4().hex[:16]})
        self.sse("message_start", {"type": "message_start", "message": {
            "id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": usage_in}})
        if tool_use:
            start = dict(tool_use)
            start["input"] = {}
            self.sse("content_block_start", {"type": "content_block_start", "index": 0,
                                             "content_block": start})
            self.sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {
                "type": "input_json_delta", "partial_json": json.dumps(tool_use["input"])}})
        else:
            self.sse("content_block_start", {"type": "content_block_start", "index": 0,
                                             "content_block": {"type": "text", "text": ""}})
            self.sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                             "delta": {"type": "text_delta", "text": text}})
        self.sse("content_block_stop", {"type": "content_block_stop", "index": 0})
        self.usage_event("message_delta", {"type": "message_delta",
                                           "delta": {"stop_reason": stop, "stop_sequence": None},
                                           "usage": {"output_tokens": n["output"]}}, fu)
        self.sse("message_stop", {"type": "message_stop"})
        self.end_chunks()

    # ---------------------------------------------------------------- OpenAI
    def openai_responses(self, body):
        self.route = "openai-responses"
        inp = body.get("input")
        items = inp if isinstance(inp, list) else []
        turns = openai_turns(body)
        model = body.get("model") or "gpt-fake"
        last_text = inp if isinstance(inp, str) else ""
        for it in reversed(items):
            if isinstance(it, dict) and it.get("role") == "user":
                ts = [t for t in openai_user_texts(it) if is_user_text(t)]
                if ts:
                    last_text = ts[-1]
                    break
        last_is_tool_output = bool(items) and isinstance(items[-1], dict) and \
            items[-1].get("type") in ("function_call_output", "custom_tool_call_output",
                                      "local_shell_call_output")
        tools = []

        def collect(ts):
            for t in ts or []:
                if isinstance(t, dict):
                    tools.append(t.get("name") or t.get("type"))
                    collect(t.get("tools"))
        collect(body.get("tools"))
        for it in items:
            if isinstance(it, dict) and it.get("type") == "additional_tools":
                collect(it.get("tools"))
        text = "FAKE-OPENAI-ANSWER turn=%d" % turns
        call = None
        wr = write_request(last_text)
        if wr and not last_is_tool_output:
            cmd = shell_write_command(*wr)
            if "exec" in tools:
                # codex 0.171 "code mode": one freeform tool "exec" that runs JavaScript
                # which calls the nested tools (tools.exec_command(...))
                call = ("exec", "const r = await tools.exec_command({cmd: %s});\ntext(r);\n"
                        % json.dumps(cmd), "custom")
            elif "exec_command" in tools:
                call = ("exec_command", json.dumps({"cmd": cmd}))
            elif "shell_command" in tools:
                call = ("shell_command", json.dumps({"command": cmd}))
            elif "shell" in tools:
                call = ("shell", json.dumps({"command": ["bash", "-lc", cmd]}))
        elif wr and last_is_tool_output:
            text += " wrote=%s" % wr[0]
        resp_id = "resp_fake%s" % uuid.uuid4().hex[:20]
        item_id = "msg_fake%s" % uuid.uuid4().hex[:20]
        created = int(time.time())
        if call and len(call) == 3:
            item = {"type": "custom_tool_call", "id": "ctc_fake%s" % uuid.uuid4().hex[:16],
                    "call_id": "call_fake%s" % uuid.uuid4().hex[:16], "name": call[0],
                    "input": call[1], "status": "completed"}
            self.answer = "custom_tool_call %s" % call[0]
        elif call:
            item = {"type": "function_call", "id": "fc_fake%s" % uuid.uuid4().hex[:16],
                    "call_id": "call_fake%s" % uuid.uuid4().hex[:16], "name": call[0],
                    "arguments": call[1], "status": "completed"}
            self.answer = "function_call %s" % call[0]
        else:
            item = {"type": "message", "id": item_id, "role": "assistant", "status": "completed",
                    "content": [{"type": "output_text", "text": text, "annotations": []}]}
            self.answer = text
        fu = self.fake_usage()
        n = fu if isinstance(fu, dict) else {"input": 10, "output": 8, "cache_read": 0, "cache_write": 0}
        usage = {"input_tokens": n["input"] + n["cache_read"],
                 "input_tokens_details": {"cached_tokens": n["cache_read"]},
                 "output_tokens": n["output"], "output_tokens_details": {"reasoning_tokens": 0},
                 "total_tokens": n["input"] + n["cache_read"] + n["output"]}
        base = {"id": resp_id, "object": "response", "created_at": created, "model": model,
                "status": "in_progress", "output": []}
        done = dict(base, status="completed", output=[item], usage=usage)
        if not body.get("stream"):
            return self.usage_json(done, fu)
        self.start_sse({"x-request-id": "req_fake%s" % uuid.uuid4().hex[:16]})
        seq = [0]

        def ev(kind, obj):
            obj = dict(obj)
            obj["type"] = kind
            obj["sequence_number"] = seq[0]
            seq[0] += 1
            self.sse(kind, obj)

        ev("response.created", {"response": base})
        ev("response.in_progress", {"response": base})
        if call:
            # codex's freeform tool streams "input", a function call "arguments"
            field, name = (("input", "custom_tool_call_input") if item["type"] == "custom_tool_call"
                           else ("arguments", "function_call_arguments"))
            ev("response.output_item.added", {"output_index": 0, "item": dict(
                item, **{field: "", "status": "in_progress"})})
            ev("response.%s.delta" % name, {"output_index": 0, "item_id": item["id"], "delta": item[field]})
            ev("response.%s.done" % name, {"output_index": 0, "item_id": item["id"], field: item[field]})
            ev("response.output_item.done", {"output_index": 0, "item": item})
        else:
            ev("response.output_item.added", {"output_index": 0, "item": dict(
                item, status="in_progress", content=[])})
            ev("response.content_part.added", {"output_index": 0, "item_id": item_id,
                                               "content_index": 0, "part": {
                                                   "type": "output_text", "text": "",
                                                   "annotations": []}})
            ev("response.output_text.delta", {"output_index": 0, "item_id": item_id,
                                              "content_index": 0, "delta": text})
            ev("response.output_text.done", {"output_index": 0, "item_id": item_id,
                                             "content_index": 0, "text": text})
            ev("response.content_part.done", {"output_index": 0, "item_id": item_id,
                                              "content_index": 0, "part": item["content"][0]})
            ev("response.output_item.done", {"output_index": 0, "item": item})
        done_ev = {"type": "response.completed", "sequence_number": seq[0], "response": done}
        self.usage_event("response.completed", done_ev, fu)
        self.end_chunks()

    # ---------------------------------------------------------------- Gemini
    def gemini_generate(self, body, model, stream, alt_sse=True):
        self.route = "gemini-stream" if stream else "gemini-generate"
        contents = body.get("contents") or []
        turns = gemini_turns(body)
        gc = body.get("generationConfig") or {}
        last = contents[-1] if contents else {}
        last_is_fn = any(isinstance(p, dict) and "functionResponse" in p
                         for p in (last.get("parts") or []))
        last_text = ""
        for c in reversed(contents):
            if c.get("role", "user") == "user":
                ts = [t for t in gemini_user_texts(c) if is_user_text(t)]
                if ts:
                    last_text = ts[-1]
                    break
        fn_names = []
        for t in body.get("tools") or []:
            for fd in (t or {}).get("functionDeclarations") or []:
                fn_names.append(fd.get("name"))
        if gc.get("responseMimeType") == "application/json" or gc.get("responseJsonSchema") \
                or gc.get("responseSchema"):
            # internal helper calls of gemini-cli (next speaker check, model router,
            # loop detection, ...): an answer that fits all the known schemas
            text = json.dumps({"reasoning": "fake", "next_speaker": "user",
                               "model_choice": "flash", "complexity_reasoning": "fake",
                               "complexity_score": 1, "confidence": 0.0,
                               "unproductive_state_confidence": 0.0,
                               "unproductive_state_analysis": "fake"})
            parts = [{"text": text}]
            self.answer = "json-helper"
        else:
            text = "FAKE-GEMINI-ANSWER turn=%d" % turns
            wr = write_request(last_text)
            parts = [{"text": text}]
            if wr and not last_is_fn and "run_shell_command" in fn_names:
                parts = [{"functionCall": {"name": "run_shell_command", "args": {
                    "command": shell_write_command(*wr), "description": "Write the requested file"}}}]
                self.answer = "functionCall run_shell_command"
            else:
                if wr and last_is_fn:
                    text += " wrote=%s" % wr[0]
                    parts = [{"text": text}]
                self.answer = text
        fu = self.fake_usage()
        n = fu if isinstance(fu, dict) else {"input": 10, "output": 8, "cache_read": 0, "cache_write": 0}
        resp = {"candidates": [{"content": {"parts": parts, "role": "model"},
                                "finishReason": "STOP", "index": 0}],
                "modelVersion": model, "responseId": "fake%s" % uuid.uuid4().hex[:16],
                "usageMetadata": {"promptTokenCount": n["input"] + n["cache_read"],
                                  "cachedContentTokenCount": n["cache_read"],
                                  "candidatesTokenCount": n["output"],
                                  "totalTokenCount": n["input"] + n["cache_read"] + n["output"]}}
        if not stream:
            return self.usage_json(resp, fu)
        if not alt_sse:
            # streamGenerateContent without alt=sse: a JSON array
            return self.send_json(200, [resp])
        self.start_sse()
        first = {"candidates": [{"content": {"parts": [{"text": ""}], "role": "model"}, "index": 0}],
                 "modelVersion": model,
                 "usageMetadata": {"promptTokenCount": n["input"] + n["cache_read"], "totalTokenCount": 0}}
        self.sse(None, first)
        self.usage_event(None, resp, fu)
        self.end_chunks()

    # ---------------------------------------------------------------- OpenAI Chat
    def openai_chat(self, body):
        self.route = "openai-chat"
        model = body.get("model") or "gpt-fake"
        text = "FAKE-OPENAI-CHAT-ANSWER"
        self.answer = text
        fu = self.fake_usage()
        n = fu if isinstance(fu, dict) else {"input": 10, "output": 8, "cache_read": 0, "cache_write": 0}
        usage = {"prompt_tokens": n["input"] + n["cache_read"], "completion_tokens": n["output"],
                 "total_tokens": n["input"] + n["cache_read"] + n["output"],
                 "prompt_tokens_details": {"cached_tokens": n["cache_read"]}}
        cid = "chatcmpl-fake%s" % uuid.uuid4().hex[:16]
        base = {"id": cid, "object": "chat.completion", "created": int(time.time()), "model": model}
        if not body.get("stream"):
            return self.usage_json(dict(base, choices=[{"index": 0, "finish_reason": "stop", "message": {
                "role": "assistant", "content": text}}], usage=usage), fu)
        self.start_sse()
        chunk = dict(base, object="chat.completion.chunk")
        self.sse(None, dict(chunk, choices=[{"index": 0, "delta": {"role": "assistant", "content": text}}]))
        self.sse(None, dict(chunk, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]))
        self.usage_event(None, dict(chunk, choices=[], usage=usage), fu)
        self.chunk("data: [DONE]\n\n")
        self.end_chunks()


def is_model_path(path):
    p = path.split("?", 1)[0]
    return p.startswith("/v1/messages") or p.endswith("/responses") or p.endswith("/chat/completions") or \
        re.match(r"^/v1[a-z0-9]*/models/[^/]+:", p) is not None


def now_iso():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (int(t * 1000) % 1000)


def headers_dict(h):
    out = {}
    for k, v in h.items():
        if k in out:
            out[k] = out[k] + ", " + v
        else:
            out[k] = v
    return out


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, handler, ctx, family):
        self.address_family = family
        self.ctx = ctx
        super().__init__(addr, handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        return sock, addr

    def finish_request(self, request, client_address):
        # TLS handshake in the worker thread, so a slow/bad client blocks nobody
        if self.ctx is not None:
            try:
                request.settimeout(30)
                request = self.ctx.wrap_socket(request, server_side=True)
                request.settimeout(None)
            except Exception:
                try:
                    request.close()
                except Exception:
                    pass
                return
        try:
            self.RequestHandlerClass(request, client_address, self)
        except Exception:
            pass

    def handle_error(self, request, client_address):
        pass


def parse_listen(s):
    if s.startswith("["):
        host, _, port = s[1:].partition("]:")
        return host, int(port), socket.AF_INET6
    host, _, port = s.rpartition(":")
    if not host:
        host = "0.0.0.0"
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    return host, int(port), fam


def main():
    global LOG_FILE, BODIES_FILE
    ap = argparse.ArgumentParser(description="fake model API for moat tests")
    ap.add_argument("--listen", action="append", required=True, help="ADDR:PORT (repeatable)")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--log", required=True)
    ap.add_argument("--bodies", help="also log decoded request bodies here")
    ap.add_argument("--plain", action="store_true", help="plain HTTP (no TLS)")
    a = ap.parse_args()
    ctx = None
    if not a.plain:
        if not a.cert or not a.key:
            ap.error("--cert and --key are required unless --plain")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        ctx.set_alpn_protocols(["http/1.1"])
    LOG_FILE = open(a.log, "a", buffering=1)
    if a.bodies:
        BODIES_FILE = open(a.bodies, "a", buffering=1)
    servers = []
    for l in a.listen:
        host, port, fam = parse_listen(l)
        srv = Server((host, port), Handler, ctx, fam)
        servers.append(srv)
    for srv in servers[1:]:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    sys.stderr.write("fake-model-api: listening on %s\n" % ", ".join(a.listen))
    sys.stderr.flush()
    try:
        servers[0].serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
