#!/usr/bin/env bash
# Installs what `oda` and its tests need beyond the Rust toolchain, skipping what is present:
# Debian's build tools for Sherpa (it has no binary wheel for this Python and builds from
# source) and Chromium (renders exported notebooks with the network off, in the tests), the
# pinned Python packages of requirements.txt (astropy, numpy, Sherpa, repo2docker), the
# validators of RO-Crate and CITATION.cff in their own venv (ODA_TOOLS_VENV, from
# tests/python/requirements-validators.txt), the clients of `oda serve` in theirs (ODA_SERVICE_VENV,
# from tests/python/requirements-service.txt: oda-api and Selenium, with Debian's chromium-driver),
# and the "Rust (oda)" Jupyter kernel.
# Used by the README's quick start and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")"

DEB_PACKAGES=(byacc flex libfftw3-dev pkg-config chromium chromium-driver fonts-dejavu-core)
echo "== Debian packages: ${DEB_PACKAGES[*]}"
start=$SECONDS
if dpkg -s "${DEB_PACKAGES[@]}" >/dev/null 2>&1; then
    echo "   already installed"
else
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
    $sudo apt-get update -q
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${DEB_PACKAGES[@]}"
fi
echo "   ($((SECONDS - start)) s)"

echo "== Python packages (pinned, requirements.txt)"
start=$SECONDS
python3 -m pip install --quiet --disable-pip-version-check -r requirements.txt
echo "   ($((SECONDS - start)) s)"

# pinned_venv DIR REQUIREMENTS ENV_NAME IMPORTS: a venv at DIR with the pinned REQUIREMENTS, made
# again when they or the Python version change (their hash is kept in the venv), skipped when
# present and IMPORTS import.
pinned_venv() {
    local venv="$1" requirements="$2" env_name="$3" imports="$4" hash
    hash="$({ cat "$requirements"; python3 --version; } | sha256sum | cut -d' ' -f1)"
    if [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" = "$hash" ] \
        && "$venv/bin/python" -c "import $imports" 2>/dev/null; then
        echo "   already installed"
        return
    fi
    if [ -e "$venv" ] && [ ! -f "$venv/pyvenv.cfg" ] && [ -n "$(ls -A "$venv")" ]; then
        echo "$venv exists and is not a Python venv: remove it or set $env_name" >&2
        exit 1
    fi
    python3 -m venv --clear "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$hash" > "$venv/.requirements.sha256"
}

# The offline validators of a record's describing files (tests/publish_validators.rs):
# rocrate-validator and cffconvert, pinned, in their own venv — cffconvert pins an old jsonschema
# that conflicts with the Jupyter packages.
TOOLS_VENV="${ODA_TOOLS_VENV:-$HOME/.local/share/oda/tools-venv}"
TOOLS_REQUIREMENTS=tests/python/requirements-validators.txt
echo "== Validators of RO-Crate and CITATION.cff (pinned, $TOOLS_REQUIREMENTS) in $TOOLS_VENV"
start=$SECONDS
pinned_venv "$TOOLS_VENV" "$TOOLS_REQUIREMENTS" ODA_TOOLS_VENV "rocrate_validator, rocrate, cffconvert"
echo "   ($((SECONDS - start)) s)"

# The clients of `oda serve` (tests/service.rs): the reference Python client, PyPI oda-api
# 1.3.5 unmodified, and Selenium (driving Debian's chromium through chromium-driver), pinned,
# in their own venv — oda-api pins bokeh<3.2 and brings matplotlib, astroquery and scipy.
SERVICE_VENV="${ODA_SERVICE_VENV:-$HOME/.local/share/oda/service-venv}"
SERVICE_REQUIREMENTS=tests/python/requirements-service.txt
echo "== Clients of oda serve (pinned, $SERVICE_REQUIREMENTS) in $SERVICE_VENV"
start=$SECONDS
pinned_venv "$SERVICE_VENV" "$SERVICE_REQUIREMENTS" ODA_SERVICE_VENV "oda_api.api, selenium.webdriver, astropy.io.fits"
echo "   ($((SECONDS - start)) s)"

# The "Rust (oda)" Jupyter kernel: evcxr_jupyter (skipped when present), JupyterLab, nbclient,
# the kernelspec and a warmed build directory (the first time: ~10 min for evcxr_jupyter and
# ~10 min for the dependency tree on 2 cores).
"$(dirname "$0")/kernel/install.sh"
