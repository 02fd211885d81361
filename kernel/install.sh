#!/usr/bin/env bash
# Installs the "Rust (oda)" Jupyter kernel: evcxr_jupyter (pinned, skipped when present),
# JupyterLab, nbclient and plotly from pip (kernel/requirements.txt), the kernelspec, the evcxr
# configuration that loads this checkout's `oda` crate, and a warmed build directory so that a new
# session's first cell does not compile the dependency tree.
#
#   kernel/install.sh            install (re-running updates and re-warms)
#   kernel/install.sh --uninstall
#
# Where things go: the kernelspec in $(jupyter --data-dir)/kernels/oda; evcxr's configuration
# and build directories in $ODA_KERNEL_HOME (default ~/.local/share/oda-kernel).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
EVCXR_VERSION=0.22.0
export ODA_KERNEL_HOME="${ODA_KERNEL_HOME:-$HOME/.local/share/oda-kernel}"
export PATH="$HOME/.cargo/bin:$PATH"

if [ "${1:-}" = "--uninstall" ]; then
    jupyter kernelspec remove -y oda 2>/dev/null || true
    rm -rf "$ODA_KERNEL_HOME"
    echo "removed the oda kernelspec and $ODA_KERNEL_HOME (evcxr_jupyter and the pip packages stay: cargo uninstall evcxr_jupyter; pip uninstall -r kernel/requirements.txt)"
    exit 0
fi

step() { echo "== $1"; start=$SECONDS; }
done_() { echo "   ($((SECONDS - start)) s)"; }

step "rust-src (evcxr's type inference needs the standard library's sources)"
rustup component add rust-src 2>/dev/null || echo "   rust-src unavailable: the kernel works, with less type inference"
done_

step "evcxr_jupyter $EVCXR_VERSION"
if command -v evcxr_jupyter >/dev/null 2>&1; then
    echo "   present: $(command -v evcxr_jupyter)"
else
    cargo install --locked evcxr_jupyter --version "$EVCXR_VERSION"
fi
done_

step "JupyterLab, nbclient, nbconvert, plotly (kernel/requirements.txt)"
python3 -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
done_

step "evcxr configuration and kernelspec"
plotly_js="$(python3 -c 'import os, plotly; print(os.path.join(os.path.dirname(plotly.__file__), "package_data", "plotly.min.js"))')"
test -f "$plotly_js" || { echo "plotly.min.js not found at $plotly_js" >&2; exit 1; }
mkdir -p "$ODA_KERNEL_HOME/config" "$ODA_KERNEL_HOME/slots" "$ODA_KERNEL_HOME/.cargo"
# Dependencies (oda, polars, ...) optimised and without debug assertions; cells compile fast.
# A config file in an ancestor of the build directories overrides evcxr's generated profile.
cat > "$ODA_KERNEL_HOME/.cargo/config.toml" <<TOML
[profile.dev.package."*"]
opt-level = 3
debug-assertions = false
overflow-checks = false
TOML
cat > "$ODA_KERNEL_HOME/config/init.evcxr" <<EVCXR
:dep oda = { path = "$repo", default-features = false }
:opt 1
use oda::prelude::*;
EVCXR
spec="$(mktemp -d)/oda"
mkdir -p "$spec"
cp "$here/launch" "$spec/launch"
python3 - "$spec/kernel.json" "$ODA_KERNEL_HOME" "$plotly_js" <<'PY'
import json, os, sys
path, home, plotly_js = sys.argv[1:]
json.dump({
    "argv": ["{resource_dir}/launch", "{connection_file}"],
    "display_name": "Rust (oda)",
    "language": "rust",
    "interrupt_mode": "message",
    "env": {
        "ODA_KERNEL_HOME": home,
        "EVCXR_CONFIG_DIR": os.path.join(home, "config"),
        "ODA_PLOTLY_JS": plotly_js,
        "PATH": os.path.expanduser("~/.cargo/bin") + ":${PATH}",
    },
}, open(path, "w"), indent=2)
PY
jupyter kernelspec install --user --name oda "$spec" >/dev/null
echo "   kernelspec: $(jupyter kernelspec list | awk '$1 == "oda" {print $2}')"
done_

step "warming the build directory (compiles oda and its dependencies once, ~10 min on 2 cores)"
ODA_EVCXR_TMPDIR="$ODA_KERNEL_HOME/slots/0" python3 "$here/run_notebooks.py" --warm
done_
echo "installed: start JupyterLab with 'jupyter lab' and pick the \"Rust (oda)\" kernel"
