"""Runs the PyPI client `zenodo-client` (0.4.2) against a local zenodo_fake.

Usage: python zenodo_client_flow.py BASE_URL TOKEN WORKDIR

zenodo-client has no base-URL option: it keeps its endpoints in the instance attributes
`base`, `api_base` and `depositions_base`, which are pointed at the fake here. Everything else
is the client's own code: create + upload (bucket PUT) + publish, then update (new version,
metadata PUT, upload, publish) and a download of a published file. Prints a JSON summary.
"""

import hashlib
import json
import os
import sys
from pathlib import Path

base, token, work = sys.argv[1], sys.argv[2], Path(sys.argv[3])
os.environ["PYSTOW_HOME"] = str(work / "pystow")

from zenodo_client import Creator, Metadata, Zenodo  # noqa: E402

z = Zenodo(access_token=token, sandbox=True)
z.base = base
z.api_base = base + "/api"
z.depositions_base = z.api_base + "/deposit/depositions"

spectrum = work / "spectrum.txt"
spectrum.write_text("channel counts\n1 10\n2 12\n")
lightcurve = work / "lightcurve.txt"
lightcurve.write_text("time rate\n0 1.5\n1 1.7\n")
image = work / "mosaic.fits"
image.write_bytes(bytes(range(256)) * 20)

meta = Metadata(
    title="ISGRI Crab products",
    upload_type="dataset",
    description="Spectra and light curves made by oda.",
    creators=[Creator(name="Doe, Jane", affiliation="ISDC", orcid="0000-0002-1825-0097")],
    keywords=["INTEGRAL", "Crab"],
    version="2025-01-01",
)

res = z.create(meta, [spectrum, lightcurve])
assert res.status_code == 202, res.text
first = res.json()
assert first["state"] == "done" and first["submitted"] is True, first

res = z.update(str(first["id"]), [image])
assert res.status_code == 202, res.text
second = res.json()
assert second["conceptrecid"] == first["conceptrecid"], (first, second)

path = z.download(second["id"], "mosaic.fits")
downloaded_ok = hashlib.md5(Path(path).read_bytes()).hexdigest() == hashlib.md5(image.read_bytes()).hexdigest()

print(json.dumps({
    "first_id": first["id"],
    "first_doi": first["doi"],
    "second_id": second["id"],
    "second_doi": second["doi"],
    "downloaded_ok": downloaded_ok,
}))
