#!/usr/bin/env python3
"""Runs notebooks headlessly in the "Rust (oda)" kernel and checks what they show.

    python3 kernel/run_notebooks.py [NOTEBOOK ...]   # default: notebooks/*.ipynb
    python3 kernel/run_notebooks.py --warm           # one trivial cell: compiles the dependency tree

Each notebook is executed with nbclient (any cell error fails the run), saved executed to
target/notebooks/<name>.ipynb and exported to target/notebooks/<name>.html. The checks: every
notebook shows at least one figure — an output bundle holding the plotly JSON *and* an HTML
rendering — and the exported HTML carries plotly.js inline, so its plots show without a network.
Timings (kernel start to first cell, every cell) go to target/notebooks/timings.json.

evcxr 0.22 answers "ok" to a cell whose code panicked (a failed `assert!`) or returned an `Err`
through `?`: it only prints the panic or the error to the cell's stderr. So a code cell that writes
to stderr fails the run here (the paper's notebooks write nothing there otherwise).

Notebook parameters are environment variables (papermill has no Rust translator): the kernel
inherits ODA_DATA, ODA_NOTEBOOK_SCALE and the like from this process.
"""

import json
import os
import queue
import re
import shutil
import subprocess
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert import HTMLExporter

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
OUT = os.path.join(REPO, "target", "notebooks")
PLOTLY_MIME = "application/vnd.plotly.v1+json"
# Written by oda::display around its inline copy of plotly.js, and in its network fallback.
PLOTLY_INLINE_MARK = "<!-- plotly.js inlined by oda -->"
CDN_LOADER = "s.src = 'https://cdn.plot.ly/"
# A cold start compiles oda and its dependencies inside the kernel before it answers.
WARM_STARTUP_TIMEOUT = 3600
STARTUP_TIMEOUT = 600
CELL_TIMEOUT = 3600
# How long to keep listening for a cell's stderr after its reply (see `late_stderr`).
LATE_STDERR_S = 0.5


def stderr_failure(cell, cell_index):
    """The failure of a code cell that wrote to stderr (a panic, an error through `?`), or None."""
    stderr = "".join(o.get("text", "") for o in cell.get("outputs", [])
                     if o.get("output_type") == "stream" and o.get("name") == "stderr")
    if not stderr.strip():
        return None
    lines = [l for l in stderr.splitlines() if l.strip()]
    # A panic's message is the line after "thread ... panicked at file:line:".
    panic = next((i for i, l in enumerate(lines) if " panicked at " in l), None)
    evalue = lines[panic + 1] if panic is not None and panic + 1 < len(lines) else lines[0]
    return CellExecutionError(
        traceback=f"cell {cell_index}:\n{cell.source}\n-- stderr --\n{stderr}",
        ename="panic" if panic is not None else "error",
        evalue=evalue)


def execute(nb, startup_timeout, path="."):
    """Executes `nb` in the oda kernel; returns (kernel start s, [cell s])."""
    marks = {"t0": time.monotonic(), "first": None, "starts": {}, "cells": []}

    def cell_start(cell, cell_index):
        now = time.monotonic()
        if marks["first"] is None:
            marks["first"] = now
        marks["starts"][cell_index] = now

    async def late_stderr(cell):
        """evcxr forwards a cell's stderr (where an error returned through `?` is printed) on its
        own thread, which can publish it after the cell's reply and idle status; nbclient then
        drops it, and a failed cell would pass. Before the next cell starts, whatever stderr the
        kernel still publishes belongs to this one."""
        deadline = time.monotonic() + LATE_STDERR_S
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await client.kc.get_iopub_msg(timeout=left)
            except queue.Empty:
                return
            content = msg.get("content", {})
            if msg.get("msg_type") == "stream" and content.get("name") == "stderr":
                cell.outputs.append(nbformat.v4.new_output(
                    "stream", name="stderr", text=content.get("text", "")))

    async def cell_done(cell, cell_index, execute_reply):
        marks["cells"].append((cell_index, time.monotonic() - marks["starts"].get(cell_index, marks["t0"])))
        await late_stderr(cell)
        failure = stderr_failure(cell, cell_index)
        if failure is not None:
            raise failure

    client = NotebookClient(
        nb,
        kernel_name="oda",
        startup_timeout=startup_timeout,
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": path}},
        on_cell_start=cell_start,
        on_cell_executed=cell_done,
    )
    client.execute()
    # A cell's stderr can reach the client after its execute_reply (on a loaded machine): the
    # hook above may not have seen it, so every code cell is checked again at the end.
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") == "code":
            failure = stderr_failure(cell, index)
            if failure is not None:
                raise failure
    start = (marks["first"] or time.monotonic()) - marks["t0"]
    return start, [round(t, 2) for _, t in sorted(marks["cells"])]


def figures(nb):
    """Outputs that carry a figure bundle (plotly JSON and HTML)."""
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if PLOTLY_MIME in data and "text/html" in data:
                found.append(i)
    return found


def offline_figures(html_path):
    """Renders an exported page in headless Chromium with every network request refused and
    counts the figures that were drawn: distinct plot elements that plotly marked as plots
    (class js-plotly-plot) and filled with its <svg class="main-svg"> layers."""
    browser = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        return None, "no Chromium to render the exported HTML (setup.sh installs Debian's chromium)"
    profile = os.path.join(OUT, ".chromium-profile")
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           # The network is off: no proxy is listening and no host name resolves.
           "--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
           f"--user-data-dir={profile}", "--virtual-time-budget=20000", "--dump-dom",
           "file://" + os.path.abspath(html_path)]
    try:
        dom = subprocess.run(cmd, capture_output=True, text=True, timeout=300).stdout
    except subprocess.TimeoutExpired:
        return None, "Chromium did not finish rendering the exported HTML in 5 minutes"
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    drawn = set()
    for m in re.finditer(r'<div id="([^"]+)"[^>]*class="[^"]*js-plotly-plot', dom):
        if 'class="main-svg"' in dom[m.end():m.end() + 5000]:
            drawn.add(m.group(1))
    return len(drawn), None


def run(path):
    name = os.path.splitext(os.path.basename(path))[0]
    nb = nbformat.read(path, as_version=4)
    print(f"== {name}", flush=True)
    try:
        startup, cells = execute(nb, STARTUP_TIMEOUT, os.path.dirname(os.path.abspath(path)))
    except CellExecutionError as e:
        os.makedirs(OUT, exist_ok=True)
        nbformat.write(nb, os.path.join(OUT, f"{name}.failed.ipynb"))
        print(f"{name}: a cell failed:\n{e}", file=sys.stderr)
        return None
    os.makedirs(OUT, exist_ok=True)
    nbformat.write(nb, os.path.join(OUT, f"{name}.ipynb"))
    html, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    with open(os.path.join(OUT, f"{name}.html"), "w", encoding="utf-8") as f:
        f.write(html)
    problems = []
    if not figures(nb):
        problems.append("no figure bundle (plotly JSON + HTML) in any output")
    if "Plotly.newPlot" not in html:
        problems.append("the exported HTML draws no plotly figure")
    ids = re.findall(r"Plotly\.newPlot\('([^']+)'", html)
    if len(set(ids)) != len(ids):
        problems.append(f"figures share element ids ({len(ids)} plots, {len(set(ids))} ids): "
                        "only one of each would be drawn")
    if html.count(PLOTLY_INLINE_MARK) != 1 or CDN_LOADER in html:
        problems.append(
            f"the exported HTML carries plotly.js inline {html.count(PLOTLY_INLINE_MARK)} times "
            "(expected once, so that its plots show without a network)")
    drawn, why = offline_figures(os.path.join(OUT, f"{name}.html"))
    if why:
        problems.append(why)
    elif drawn < len(figures(nb)):
        problems.append(f"with the network off, the exported HTML drew {drawn} plot(s) "
                        f"for {len(figures(nb))} figure(s)")
    for p in problems:
        print(f"{name}: {p}", file=sys.stderr)
    print(f"   kernel start {startup:.1f} s; cells {cells} s; offline HTML drew {drawn} plot(s) "
          f"for {len(figures(nb))} figure(s)", flush=True)
    return None if problems else {"kernel_start_s": round(startup, 2), "cells_s": cells}


def warm():
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("let warmed = Time::from_mjd_tt(60000.0).is_ok();\nwarmed"))
    t0 = time.monotonic()
    startup, cells = execute(nb, WARM_STARTUP_TIMEOUT)
    out = nb.cells[0].outputs
    text = "".join(o.get("data", {}).get("text/plain", "") for o in out)
    if "true" not in text:
        print(f"warm-up cell gave {out!r}", file=sys.stderr)
        return 1
    print(f"   warm-up: kernel start (compiling the dependency tree) {startup:.0f} s, "
          f"first cell {cells[0] if cells else '?'} s, total {time.monotonic() - t0:.0f} s")
    return 0


def main(argv):
    if argv[1:] == ["--warm"]:
        return warm()
    paths = argv[1:] or sorted(
        os.path.join(REPO, "notebooks", f)
        for f in os.listdir(os.path.join(REPO, "notebooks"))
        if f.endswith(".ipynb")
    )
    timings, failed = {}, []
    for p in paths:
        r = run(p)
        if r is None:
            failed.append(p)
        else:
            timings[os.path.basename(p)] = r
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "timings.json"), "w") as f:
        json.dump(timings, f, indent=2)
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"{len(paths)} notebook(s) ran; executed copies and HTML in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
