#!/usr/bin/env python3
"""A misbehaving Hub for hostile-inputs.sh (measurement only; never used by the product or its
tests). Serves on 127.0.0.1:PORT until killed; logs every request's headers to LOG.

  /huge/x/resolve/main/config.json     200 with Content-Length 3 GB, streamed zeros
  /endless/x/resolve/main/config.json  200 chunked, never ends
  /bomb/x/resolve/main/config.json     200 Content-Encoding: gzip, 64 MiB of spaces inflated
  /drip/x/resolve/main/config.json     200 Content-Length 1000, one byte a second
  /redirect/x/resolve/main/config.json 302 to http://127.0.0.1:OTHER/elsewhere/config.json
  /elsewhere/config.json               200 a tiny llama config
"""
import gzip, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, other, log, bomb_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
TINY = b'{"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 100}'

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def do_GET(self):
        with open(log, "a") as f:
            f.write(f"{port} {self.path}\n{self.headers}\n")
        kind = self.path.split("/")[1]
        try:
            if kind == "huge":
                self.send_response(200); self.send_header("Content-Length", str(3 * 10**9)); self.end_headers()
                chunk = b"\0" * (1 << 20)
                for _ in range(3000): self.wfile.write(chunk)
            elif kind == "endless":
                self.send_response(200); self.send_header("Transfer-Encoding", "chunked"); self.end_headers()
                chunk = b"%x\r\n" % (1 << 16) + b" " * (1 << 16) + b"\r\n"
                while True: self.wfile.write(chunk)
            elif kind == "bomb":
                body = open(bomb_file, "rb").read()
                self.send_response(200); self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
            elif kind == "drip":
                self.send_response(200); self.send_header("Content-Length", "1000"); self.end_headers()
                for _ in range(1000): self.wfile.write(b" "); self.wfile.flush(); time.sleep(1)
            elif kind == "redirect":
                self.send_response(302); self.send_header("Location", f"http://127.0.0.1:{other}/elsewhere/config.json")
                self.send_header("Content-Length", "0"); self.end_headers()
            elif kind == "elsewhere":
                self.send_response(200); self.send_header("Content-Length", str(len(TINY))); self.end_headers(); self.wfile.write(TINY)
            else:
                self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers()
        except (BrokenPipeError, ConnectionResetError):
            pass

ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
