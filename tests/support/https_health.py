"""GET /api/v1/health over HTTPS with the certificate pinned by its SHA-256.

Usage: https_health.py HOST PORT FINGERPRINT
Prints the JSON body. Exits 2 when the server's certificate is not the
pinned one (nothing is sent to it then), 1 on any other failure.
A client written without Hearth's code: Python's ssl module.
"""
import hashlib
import socket
import ssl
import sys


def get_health(host: str, port: int, fingerprint: str, timeout: float = 10.0) -> str:
    ctx = ssl.create_default_context()
    # A self-signed certificate cannot be verified by a CA: pin it instead.
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=timeout) as raw:
        with ctx.wrap_socket(raw, server_hostname="hearth.local") as tls:
            der = tls.getpeercert(binary_form=True)
            seen = hashlib.sha256(der).hexdigest()
            if seen != fingerprint.lower():
                print(f"certificate fingerprint {seen} is not the pinned {fingerprint}", file=sys.stderr)
                sys.exit(2)
            host_header = f"[{host}]" if ":" in host else host
            tls.sendall(
                f"GET /api/v1/health HTTP/1.1\r\nHost: {host_header}:{port}\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b"\r\n")[0]
    if b" 200 " not in status:
        print(f"unexpected status: {status!r}", file=sys.stderr)
        sys.exit(1)
    return body.decode()


if __name__ == "__main__":
    print(get_health(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
