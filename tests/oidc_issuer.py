"""An OIDC token issuer on loopback, standing in for Google's (Pub/Sub push authentication)."""

import datetime
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class OidcIssuer:
    """Google's token issuer in miniature: an RSA key, its certificate published over HTTP (key id →
    PEM, like https://www.googleapis.com/oauth2/v1/certs), and ID tokens signed with it."""

    def __init__(self, issuer: str = "https://accounts.google.com") -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self.issuer = issuer
        self.key_id = "helios-test-key"
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "helios-test-issuer")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256())
        )
        self.private_key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        certs = json.dumps({self.key_id: cert.public_bytes(serialization.Encoding.PEM).decode()}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(certs)))
                self.end_headers()
                self.wfile.write(certs)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.certs_url = f"http://127.0.0.1:{self._server.server_address[1]}/oauth2/v1/certs"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def token(self, audience: str, *, email: str = "push@helios-test.iam.gserviceaccount.com", **claims: Any) -> str:
        """A signed ID token like the one Pub/Sub push sends (override any claim)."""
        from google.auth import crypt, jwt

        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "aud": audience,
            "iat": now,
            "exp": now + 3600,
            "email": email,
            "email_verified": True,
            "sub": "1234567890",
            **claims,
        }
        signer = crypt.RSASigner.from_string(self.private_key_pem, self.key_id)
        return jwt.encode(signer, payload).decode()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
