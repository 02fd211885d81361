#!/usr/bin/env bash
# Installs what `oda` and its tests need beyond the Rust toolchain, skipping what is present:
# Debian's build tools for Sherpa (it has no binary wheel for this Python and builds from
# source) and Chromium (renders exported notebooks with the network off, in the tests), the
# pinned Python packages of requirements.txt (astropy, numpy, Sherpa, repo2docker), and the
# "Rust (oda)" Jupyter kernel.
# Used by the README's quick start and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")"

DEB_PACKAGES=(byacc flex libfftw3-dev pkg-config chromium fonts-dejavu-core)
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

# The "Rust (oda)" Jupyter kernel: evcxr_jupyter (skipped when present), JupyterLab, nbclient,
# the kernelspec and a warmed build directory (the first time: ~10 min for evcxr_jupyter and
# ~10 min for the dependency tree on 2 cores).
"$(dirname "$0")/kernel/install.sh"
