"""The last step of `make demo`: the review pages on the demo's queue, with a sign-in link.

    python -m bentos.classifier.demo_pages --workdir build/demo

It serves the queue the model-server demo filled (a real `slipway serve` on 127.0.0.1), checks the
link it prints really signs a reviewer in and shows the queue, then keeps the server up for a
person at a terminal until they press Enter; without a terminal (CI) it stops straight away.
The link carries a ready reviewer token after "#", which the browser never sends to a server: the
sign-in page moves it into the HttpOnly cookie.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import httpx

from bentos.classifier.demo import serving
from slipway.identity.dev_issuer import DevIssuer

SESSION_SECONDS = 8 * 3600


def _check_link(url: str, token: str) -> int:
    """Sign in with the link's token as the browser would, and count the cases the queue shows."""
    with httpx.Client(base_url=url, timeout=30) as browser:
        signed_in = browser.post("/ui/login", data={"token": token}, headers={"origin": url})
        queue = browser.get("/ui/")
    if signed_in.status_code != 303 or queue.status_code != 200 or "Take the next case" not in queue.text:
        raise SystemExit(f"demo: the sign-in link does not work ({signed_in.status_code}, {queue.status_code})")
    return len(re.findall(r"data-case>", queue.text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("build/demo"))
    parser.add_argument(
        "--hold", type=float, default=None, help="keep serving this many seconds (default: until Enter)"
    )
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    home = workdir / "home"
    if not (home / "review").exists():
        raise SystemExit(f"demo: no review queue under {home}: run `python -m bentos.classifier.demo` first")
    model = (workdir / "model.tag").read_text().strip()
    env = {**os.environ, "SLIPWAY_HOME": str(home), "BENTOML_HOME": str(workdir / "bentoml"),
           "BENTOML_DO_NOT_TRACK": "true", "SLIPWAY_MODEL": model}  # fmt: skip
    issuer = DevIssuer(home / "auth")
    with issuer.serving(), serving(env, workdir / "pages-server.log") as url:
        token = issuer.mint("dr.demo", ["reviewer"], name="Dr Demo", ttl=SESSION_SECONDS)
        cases = _check_link(url, token)
        print(f"review pages: {cases} cases wait. Open this sign-in link (a reviewer token, valid 8 h) in a browser:")
        print(f"\n  {url}/ui/login#token={token}\n")
        print("  keys: n takes the next case, 1-9 choose a class, Enter records it, s gives it back")
        interactive = sys.stdin.isatty() and not os.environ.get("CI")
        if interactive:
            input("  the server stays up for you: press Enter to stop it ")
        else:
            print("  (no terminal: the server stops now; run `make review-pages` to keep one up)")


if __name__ == "__main__":
    main()
