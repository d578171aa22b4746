"""Sending mail over SMTP (standard library)."""

from __future__ import annotations

import base64
import contextlib
import re
import smtplib
import ssl
import time

from connectors.base import MailDeferred, MailRefused, PermanentError, TransientError

_BARE_LF = re.compile(rb"(?<!\r)\n")
IDLE_CHECK_SECONDS = 30.0  # a connection unused this long is asked NOOP before a mail


class SmtpSender:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        use_ssl: bool = False,
        timeout: float = 30.0,
    ) -> None:
        self.host, self.port = host, port
        self.username, self._password = username, password
        self.starttls, self.use_ssl, self.timeout = starttls, use_ssl, timeout
        self._conn: smtplib.SMTP | None = None
        self._used = 0.0  # when the connection last answered

    def _connect(self) -> smtplib.SMTP:
        if self._conn is not None:
            if time.monotonic() - self._used < IDLE_CHECK_SECONDS:
                return self._conn  # one round trip less a mail; a drop is caught in send
            try:
                if self._conn.noop()[0] == 250:
                    return self._conn
            except smtplib.SMTPException:
                pass
            self._conn = None
        try:
            if self.use_ssl:
                conn: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    timeout=self.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
                if self.starttls:
                    conn.starttls(context=ssl.create_default_context())
            if self.username and self._password is not None:
                _login(conn, self.username, self._password)
            self._used = time.monotonic()
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentError(f"SMTP login refused for {self.username}") from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise TransientError(f"cannot reach SMTP {self.host}:{self.port}: {exc}") from exc
        self._conn = conn
        return conn

    def send(self, sender: str, recipients: list[str], raw: bytes) -> None:
        """Send ``raw``. Reaching the server or logging in fails with TransientError or
        PermanentError (about the server); the server's answer to this message with
        MailDeferred or MailRefused."""
        for again in (False, True):
            conn = self._connect()
            try:
                # smtplib sends bytes as they are: line ends must already be CRLF
                refused = conn.sendmail(sender, recipients, _BARE_LF.sub(b"\r\n", raw))
            except smtplib.SMTPServerDisconnected as exc:
                self._conn = None  # it closed a connection we kept (restarted, timed out)
                if again:
                    raise MailDeferred(f"SMTP connection failed while sending: {exc}") from exc
                continue
            except smtplib.SMTPRecipientsRefused as exc:
                raise _answer(exc.recipients, "recipients refused") from exc
            except smtplib.SMTPSenderRefused as exc:  # our own address: every mail would be
                error = PermanentError if exc.smtp_code >= 500 else TransientError
                raise error(f"SMTP refused the board's address: {exc.smtp_code}") from exc
            except smtplib.SMTPDataError as exc:
                raise _answer({"": (exc.smtp_code, b"")}, "SMTP refusal") from exc
            except (smtplib.SMTPException, OSError) as exc:
                self._conn = None
                raise MailDeferred(f"SMTP connection failed while sending: {exc}") from exc
            self._used = time.monotonic()
            if refused:
                raise _answer(refused, "recipients refused")
            return

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._conn.quit()
            self._conn = None


def _login(conn: smtplib.SMTP, username: str, password: str) -> None:
    """Log in. smtplib sends credentials as ASCII only: a password with a Vietnamese
    letter («Mật-khẩu-Đồng-Nai») goes as AUTH PLAIN in UTF-8 (RFC 4616), which the
    server must offer."""
    if f"{username}{password}".isascii():
        conn.login(username, password)
        return
    conn.ehlo_or_helo_if_needed()
    if "PLAIN" not in conn.esmtp_features.get("auth", "").upper().split():
        raise smtplib.SMTPAuthenticationError(
            504, b"the server offers no AUTH PLAIN, which a non-ASCII password needs"
        )
    credential = base64.b64encode(f"\0{username}\0{password}".encode()).decode("ascii")
    code, answer = conn.docmd("AUTH", f"PLAIN {credential}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, answer)


def _answer(replies: dict[str, tuple[int, bytes]], what: str) -> MailDeferred | MailRefused:
    """What the server's replies to a message (by recipient) mean: wait when all are 4xx."""
    codes = ", ".join(f"{who} {code}".strip() for who, (code, _text) in sorted(replies.items()))
    if all(400 <= code < 500 for code, _text in replies.values()):
        return MailDeferred(f"{what}: {codes} (temporary)")
    return MailRefused(f"{what}: {codes}")
