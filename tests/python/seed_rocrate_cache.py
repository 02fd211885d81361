"""Seeds rocrate-validator's HTTP cache with the RO-Crate JSON-LD context, without the network.

    seed_rocrate_cache.py CACHE_PATH

CACHE_PATH is what `rocrate-validator validate --offline --cache-path CACHE_PATH` is given.
Offline, the validator cannot fetch the crate's `@context` (https://w3id.org/ro/crate/1.1/context)
and fails its JSON-LD checks; this script stores, under each RO-Crate context URL, the context
that the `rocrate` package (ro-crate-py) ships, through the validator's own cached HTTP session
so that the cache keys are the ones the validator looks up. The shipped context is the newest
(1.3), a superset of the 1.1 and 1.2 terms. Run it with the venv's python (it imports both
packages); it is idempotent.
"""

import importlib.resources
import io
import sys

import urllib3
from requests.adapters import HTTPAdapter
from rocrate_validator.utils.http import HttpRequester

CONTEXT_URLS = [f"https://w3id.org/ro/crate/{v}/context" for v in ("1.1", "1.2", "1.3")]
ACCEPT = {"Accept": "application/ld+json, application/json"}


class ShippedContext(HTTPAdapter):
    """Answers every request with the shipped context (no network)."""

    def __init__(self, body: bytes):
        super().__init__()
        self.body = body

    def send(self, request, **kwargs):
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(self.body),
            headers={"Content-Type": "application/ld+json"},
            status=200,
            preload_content=False,
            request_url=request.url,
        )
        return self.build_response(request, raw)


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    cache_path = sys.argv[1]
    body = importlib.resources.files("rocrate").joinpath("data/ro-crate.jsonld").read_bytes()
    requester = HttpRequester(cache_path=cache_path)
    requester.session.mount("https://", ShippedContext(body))
    requester.session.mount("http://", ShippedContext(body))
    for url in CONTEXT_URLS:
        response = requester.get(url, headers=ACCEPT)
        if response.status_code != 200 or "@context" not in response.json():
            print(f"could not seed {url}: {response.status_code}", file=sys.stderr)
            return 1
        print(f"seeded {url} ({len(response.content)} bytes)")
    # Read back as the validator will: from the cache only.
    for url in CONTEXT_URLS:
        if not requester.has_cached(url):
            print(f"{url} is not in the cache at {cache_path}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
