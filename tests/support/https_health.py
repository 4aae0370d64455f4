"""GET /api/v1/health over HTTPS with the hub pinned by a SHA-256 fingerprint.

Usage: https_health.py HOST PORT FINGERPRINT
Prints the JSON body. Exits 2 when the hub is not the pinned one (nothing
is asked of it then but its public authority certificate), 1 on any other
failure. A client written without Hearth's code: Python's ssl module, which
(before 3.13) cannot show the chain a server sent, so it pins as such a
client would: the fingerprint is the server certificate's own (a configured
certificate), or that of the authority the hub serves at
/api/v1/trust/ca.pem, which then becomes the only root it trusts.
"""
import hashlib
import socket
import ssl
import sys


def request(ctx: ssl.SSLContext, host: str, port: int, path: str, timeout: float):
    """The peer's certificate (DER) and the answer's status line and body."""
    with socket.create_connection((host, port), timeout=timeout) as raw:
        with ctx.wrap_socket(raw, server_hostname="hearth.local") as tls:
            der = tls.getpeercert(binary_form=True)
            host_header = f"[{host}]" if ":" in host else host
            tls.sendall(
                f"GET {path} HTTP/1.1\r\nHost: {host_header}:{port}\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return der, head.split(b"\r\n")[0], body


def get_health(host: str, port: int, fingerprint: str, timeout: float = 10.0) -> str:
    fingerprint = fingerprint.lower().replace(":", "")
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    der, status, body = request(unverified, host, port, "/api/v1/trust/ca.pem", timeout)
    if hashlib.sha256(der).hexdigest() == fingerprint:
        # The pinned certificate itself (a configured one): nothing else to check.
        ctx = unverified
    else:
        authority = body.decode(errors="replace") if b" 200 " in status else ""
        try:
            seen = hashlib.sha256(ssl.PEM_cert_to_DER_cert(authority)).hexdigest()
        except ValueError:
            seen = "none"
        if seen != fingerprint:
            print(f"authority fingerprint {seen} is not the pinned {fingerprint}", file=sys.stderr)
            sys.exit(2)
        # The pinned authority as the one root; any name (a hub is reached
        # by whatever address it has: the pin is its identity).
        ctx = ssl.create_default_context(cadata=authority)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_REQUIRED
    try:
        _, status, body = request(ctx, host, port, "/api/v1/health", timeout)
    except ssl.SSLCertVerificationError as e:
        print(f"the hub's certificate is not issued by the pinned authority: {e}", file=sys.stderr)
        sys.exit(2)
    if b" 200 " not in status:
        print(f"unexpected status: {status!r}", file=sys.stderr)
        sys.exit(1)
    return body.decode()


if __name__ == "__main__":
    print(get_health(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
