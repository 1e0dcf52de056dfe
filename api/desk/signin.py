"""Signing in to the desk with the agency's key, and the sessions it opens (docs/desk.md).

The browser asks for a challenge bound to an agency, signs the sign-in text
(``signin_text``) with the agency's Ed25519 key and posts the signature; the
server checks it against the agency's key in force and opens a session: a
random id in an HttpOnly, SameSite=Strict cookie, mapped here to (agency,
keyid). Challenges and sessions live in this process's memory: a restart signs
every clerk out, and two server processes do not share them.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

CHALLENGE_SECONDS = 60
SESSION_SECONDS = 30 * 60
COOKIE = "docledger_desk"
DOMAIN_TAG = "docledger-desk-signin/v1"
MAX_CHALLENGES = 10_000  # outstanding at once: an unauthenticated caller cannot fill memory


def signin_text(origin: str, agency: str, keyid: str, challenge: str) -> bytes:
    """The exact bytes the browser signs to open a session (UTF-8, LF-terminated lines)."""
    return f"{DOMAIN_TAG}\n{origin}\n{agency}\n{keyid}\n{challenge}\n".encode()


class SignInRefused(Exception):
    """The sign-in does not hold: the reason is shown to the clerk."""


@dataclass(frozen=True)
class Session:
    """Who is signed in: the agency and the key that opened the session."""

    agency: str
    keyid: str
    expires: float


@dataclass
class _Challenge:
    agency: str
    expires: float


@dataclass
class DeskState:
    """Challenges and sessions of this server process (one lock, small dicts)."""

    clock: object = time.monotonic
    challenges: dict[str, _Challenge] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return float(self.clock())  # type: ignore[operator]

    def new_challenge(self, agency: str) -> str:
        now = self.now()
        with self.lock:
            self._forget_expired(now)
            if len(self.challenges) >= MAX_CHALLENGES:
                raise SignInRefused("too many sign-ins under way; try again in a minute")
            challenge = secrets.token_urlsafe(32)
            self.challenges[challenge] = _Challenge(agency, now + CHALLENGE_SECONDS)
        return challenge

    def take_challenge(self, challenge: str, agency: str) -> None:
        """Use up ``challenge`` (once, ever); refused if unknown, expired or another agency's."""
        now = self.now()
        with self.lock:
            found = self.challenges.pop(challenge, None)
        if found is None:
            raise SignInRefused("the challenge is unknown or was used already")
        if found.expires <= now:
            raise SignInRefused("the challenge expired; sign in again")
        if found.agency != agency:
            raise SignInRefused("the challenge was issued for another agency")

    def open(self, agency: str, keyid: str) -> str:
        sid = secrets.token_urlsafe(32)
        with self.lock:
            self.sessions[sid] = Session(agency, keyid, self.now() + SESSION_SECONDS)
        return sid

    def find(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        with self.lock:
            session = self.sessions.get(sid)
            if session is not None and session.expires <= self.now():
                del self.sessions[sid]
                return None
        return session

    def close(self, sid: str | None) -> None:
        if sid:
            with self.lock:
                self.sessions.pop(sid, None)

    def _forget_expired(self, now: float) -> None:
        for key in [k for k, c in self.challenges.items() if c.expires <= now]:
            del self.challenges[key]
