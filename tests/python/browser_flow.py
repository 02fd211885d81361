#!/usr/bin/env python3
"""The web page of `oda serve`, driven in a real browser (headless Chromium through Selenium 4).

Usage: python browser_flow.py --url http://127.0.0.1:PORT [--out DIR] [--timeout 600]

Steps (one line printed per step; exit status 1 with a clear message on the first failure):
  1. open / and wait for the form (instrument tabs from /instr-list);
  2. request an image of the Crab (2003-03-15 … 2018-03-16, 20–40 keV, 10 pointings, 7.5σ),
     wait for `done`, check the sky map (a plotly heat map) and a Crab row in the catalog table;
  3. edit the catalog: drop the NEW_ sources, add Cyg X-1 by name, "use this catalog";
  4. switch to isgri_spectrum, submit, wait for `done`, check a Crab spectrum figure and that the
     request carried the edited catalog (`selected_catalog` in the view's parameters);
  5. open the share URL in a new tab: it re-runs the request and must give the same job and view;
  6. open the short link (/r/<job_id>) in another tab: same job;
  7. every request the browser made went to the site's host (127.0.0.1), and the browser console
     has no errors.
Screenshots: OUT/image.png, OUT/spectrum.png (and OUT/failure.png on a failure).

Needs Debian's /usr/bin/chromium and /usr/bin/chromedriver (package chromium-driver) and
`selenium` 4 (pip).
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from urllib.parse import urlsplit

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

CHROMIUM = os.environ.get("ODA_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("ODA_CHROMEDRIVER", "/usr/bin/chromedriver")
IGNORED_SCHEMES = ("data:", "blob:", "about:", "chrome-extension:", "chrome:", "devtools:")


class FlowError(Exception):
    pass


class Flow:
    def __init__(self, url, out, timeout):
        self.url = url.rstrip("/")
        self.host = urlsplit(self.url).hostname
        self.out = out
        self.timeout = timeout
        self.step_no = 0
        self.requests = []  # every URL the browser asked for
        self.console = []  # every browser console entry
        self.profile = tempfile.mkdtemp(prefix="oda-browser-")
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
            f"--user-data-dir={self.profile}",
        ):
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        self.driver.set_script_timeout(60)
        # A 1280×900 viewport (the window's size includes what the viewport does not show).
        inner = self.driver.execute_script("return [window.innerWidth, window.innerHeight];")
        rect = self.driver.get_window_size()
        self.driver.set_window_size(1280 + rect["width"] - inner[0], 900 + rect["height"] - inner[1])

    # ---- helpers

    def step(self, text):
        self.step_no += 1
        print(f"[{self.step_no}] {text}", flush=True)

    def ok(self, text):
        print(f"    ok: {text}", flush=True)

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def by_id(self, id_):
        return self.driver.find_element(By.ID, id_)

    def set_value(self, id_, value):
        e = self.by_id(id_)
        if e.tag_name == "select":
            Select(e).select_by_value(value)
        else:
            e.clear()
            e.send_keys(value)
        got = e.get_attribute("value")
        if got != value:
            raise FlowError(f"#{id_}: typed {value!r} but the field holds {got!r}")

    def collect_logs(self):
        """Drains the performance and console logs (they are emptied by each read)."""
        for entry in self.driver.get_log("performance"):
            try:
                msg = json.loads(entry["message"])["message"]
            except (KeyError, ValueError):
                continue
            if msg.get("method") == "Network.requestWillBeSent":
                self.requests.append(msg["params"]["request"]["url"])
        self.console.extend(self.driver.get_log("browser"))

    def wait_for(self, what, predicate, timeout=None, interval=0.25):
        deadline = time.time() + (timeout or self.timeout)
        while True:
            value = predicate()
            if value:
                return value
            if time.time() > deadline:
                raise FlowError(f"timed out after {timeout or self.timeout} s waiting for {what}")
            time.sleep(interval)

    def status(self):
        return self.js(
            "const s = document.getElementById('status');"
            "return s ? {state: s.dataset.state, job: s.dataset.jobId || '',"
            " text: s.innerText} : null;"
        )

    def wait_done(self, previous_job=None):
        """Waits for #status done|failed (a job other than `previous_job`); returns the job id."""
        started = time.time()
        last_print = [0.0]

        def finished():
            s = self.status()
            if not s:
                return None
            if time.time() - last_print[0] > 15:
                last_print[0] = time.time()
                print(f"    … {s['state']}: {' '.join(s['text'].split())[:140]}", flush=True)
            if s["state"] == "failed":
                return s
            if s["state"] == "done" and s["job"] and s["job"] != previous_job:
                return s
            return None

        s = self.wait_for("the analysis to finish (#status data-state done)", finished)
        if s["state"] == "failed":
            err = self.js("const e = document.getElementById('error'); return e && !e.hidden ? e.innerText : '';")
            raise FlowError(f"the analysis failed: {' '.join(s['text'].split())} {err.strip()}")
        self.ok(f"done in {time.time() - started:.1f} s, job {s['job']}")
        return s["job"]

    def fetch_json(self, path):
        """GET `path` from the page (same origin) and return the parsed JSON."""
        r = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch(arguments[0], {cache: 'no-store'}).then(async r => done({status: r.status, text: await r.text()}))"
            ".catch(e => done({status: 0, text: String(e)}));",
            path,
        )
        if r["status"] != 200:
            raise FlowError(f"GET {path}: HTTP {r['status']}: {r['text'][:300]}")
        return json.loads(r["text"])

    def screenshot(self, name):
        path = os.path.join(self.out, name)
        self.driver.save_screenshot(path)
        self.ok(f"screenshot {path}")

    def plot_traces(self):
        """[{figure id, traces: [{type, name}]}] of the drawn plotly figures."""
        return self.js(
            "return [...document.querySelectorAll('#figures .js-plotly-plot')].map(d => ({"
            " id: d.dataset.figure || d.id,"
            " traces: (d.data || []).map(t => ({type: t.type, name: t.name || ''}))}));"
        )

    def catalog_names(self):
        return self.js(
            "return [...document.querySelectorAll('#catalog-table tbody tr')].map(tr => tr.dataset.srcName);"
        )

    # ---- the flow

    def run(self):
        d = self.driver

        self.step(f"open {self.url}/")
        d.get(self.url + "/")
        if not self.js("return !!document.getElementById('query-form');"):
            shown = self.js("return document.body ? document.body.innerText : '';") or ""
            raise FlowError(f"{self.url}/ is not the oda page (is the server running?); the browser shows "
                            f"{d.title!r}: {' '.join(shown.split())[:200]}")
        self.wait_for("the instrument tabs", lambda: self.js(
            "return document.querySelectorAll('#instrument-tabs .tab').length > 0;"), timeout=30)
        tabs = self.js("return [...document.querySelectorAll('#instrument-tabs .tab')].map(t => t.dataset.instrument);")
        if "isgri" not in tabs:
            raise FlowError(f"no ISGRI tab (tabs: {tabs})")
        state = self.status()["state"]
        if state != "idle":
            raise FlowError(f"#status is {state!r} on a plain page load, expected idle")
        self.ok(f"instrument tabs {tabs}, status idle")

        self.step("the JEM-X tab: its band, radius and unit; back to ISGRI's")
        if "jemx" not in tabs:
            raise FlowError(f"no JEM-X tab (tabs: {tabs})")
        self.by_id("instr-jemx").click()
        got = {k: self.by_id(k).get_attribute("value") for k in ("E1_keV", "E2_keV", "radius")}
        if got != {"E1_keV": "3", "E2_keV": "20", "radius": "4"}:
            raise FlowError(f"the JEM-X tab shows {got}, expected JEM-X's 3-20 keV and 4 deg")
        if not self.by_id("jemx_num").is_displayed():
            raise FlowError("#jemx_num is hidden on the JEM-X tab")
        self.by_id("instr-isgri").click()
        got = {k: self.by_id(k).get_attribute("value") for k in ("E1_keV", "E2_keV", "radius")}
        if got != {"E1_keV": "20", "E2_keV": "40", "radius": "15"} or self.by_id("jemx_num").is_displayed():
            raise FlowError(f"back on the ISGRI tab: {got}, #jemx_num shown: {self.by_id('jemx_num').is_displayed()}")
        self.ok("JEM-X: 3-20 keV, 4 deg, unit field shown; ISGRI: 20-40 keV, 15 deg, no unit field")

        self.step("request an isgri_image of the Crab (10 pointings, 20–40 keV, 7.5σ)")
        Select(self.by_id("product_type")).select_by_value("isgri_image")
        self.by_id("pointing-random").click()
        for id_, value in [
            ("src_name", "Crab"),
            ("T1", "2003-03-15"),
            ("T2", "2018-03-16"),
            ("E1_keV", "20"),
            ("E2_keV", "40"),
            ("max_pointings", "10"),
            ("detection_threshold", "7.5"),
        ]:
            self.set_value(id_, value)
        Select(self.by_id("T_format")).select_by_value("isot")
        for hidden in ("time_bin", "xspec_model"):
            if self.by_id(hidden).is_displayed():
                raise FlowError(f"#{hidden} is shown for isgri_image, which does not use it")
        self.by_id("submit").click()
        image_job = self.wait_done()
        self.collect_logs()

        self.step("check the sky map and the catalog")
        figs = self.plot_traces()
        heat = [f for f in figs if any(t["type"] == "heatmap" for t in f["traces"])]
        if not heat:
            raise FlowError(f"no plotly figure with a heatmap trace in #figures ({figs})")
        ticks = self.js(
            "const d = document.querySelector('#figures .sky-map');"
            "return d ? {x: d.layout.xaxis.ticktext || [], y: d.layout.yaxis.ticktext || [],"
            " title: d.layout.xaxis.title && d.layout.xaxis.title.text} : null;"
        )
        if not ticks or not ticks["x"] or not ticks["y"]:
            raise FlowError(f"the sky map has no RA/Dec tick labels ({ticks})")
        names = self.catalog_names()
        if "Crab" not in names:
            raise FlowError(f"no Crab row in #catalog-table (rows: {names})")
        self.ok(f"map traces {[t['type'] for t in heat[0]['traces']]}, RA ticks {ticks['x']}, Dec ticks {ticks['y']}")
        self.ok(f"catalog rows: {names}")
        links = self.js(
            "return {files: [...document.querySelectorAll('#downloads a')].map(a => a.getAttribute('href')),"
            " all: document.getElementById('download-all').getAttribute('href')};"
        )
        if not links["files"]:
            raise FlowError("no download links in #downloads")
        for href in (links["files"][0], links["all"]):
            r = self.driver.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                "fetch(arguments[0]).then(async r => { const b = new Uint8Array(await r.arrayBuffer());"
                " done({status: r.status, head: String.fromCharCode(...b.slice(0, 6)), bytes: b.length}); })"
                ".catch(e => done({status: 0, head: String(e), bytes: 0}));",
                href,
            )
            want = "PK" if "return_archive=True" in href else "SIMPLE"
            if r["status"] != 200 or not r["head"].startswith(want):
                raise FlowError(f"download {href}: HTTP {r['status']}, starts with {r['head']!r} (expected {want!r})")
        self.ok(f"{len(links['files'])} download links; {links['files'][0]} and the zip answer 200")
        d.execute_script("window.scrollTo(0, 0);")
        self.screenshot("image.png")

        self.step("edit the catalog: drop NEW_ sources, add Cyg X-1 by name, use it")
        self.by_id("drop-new").click()
        names = self.catalog_names()
        if any(n.startswith("NEW_") for n in names):
            raise FlowError(f"NEW_ rows left after 'drop NEW_ sources': {names}")
        self.set_value("add-source-name", "Cyg X-1")
        self.by_id("add-source").click()
        self.wait_for("a Cyg X-1 row in the catalog table", lambda: "Cyg X-1" in self.catalog_names(), timeout=30)
        row = self.js(
            "const tr = document.querySelector('#catalog-table tbody tr[data-src-name=\"Cyg X-1\"]');"
            "return [...tr.querySelectorAll('td')].map(td => td.innerText);"
        )
        self.by_id("use-catalog").click()
        if not self.by_id("catalog-in-use").is_displayed():
            raise FlowError("#catalog-in-use is not shown after 'use this catalog'")
        selected = json.loads(self.by_id("selected_catalog").get_attribute("value"))
        columns = selected["cat_column_names"]
        expected = ["meta_ID", "src_names", "significance", "ra", "dec", "NEW_SOURCE", "ISGRI_FLAG", "FLAG", "ERR_RAD"]
        if columns != expected:
            raise FlowError(f"selected_catalog columns {columns}, expected {expected}")
        srcs = selected["cat_column_list"][columns.index("src_names")]
        if "Cyg X-1" not in srcs or "Crab" not in srcs or any(s.startswith("NEW_") for s in srcs):
            raise FlowError(f"selected_catalog sources {srcs}")
        k = srcs.index("Cyg X-1")
        added = {c: selected["cat_column_list"][i][k] for i, c in enumerate(columns)}
        want = {"significance": 0, "NEW_SOURCE": 0, "ISGRI_FLAG": 2, "FLAG": 0, "ERR_RAD": 0.05}
        if any(added[c] != v for c, v in want.items()) or abs(added["ra"] - 299.59) > 0.1:
            raise FlowError(f"the added Cyg X-1 row is {added}")
        self.ok(f"Cyg X-1 row {row[1:-1]}; catalog in use: {self.by_id('catalog-in-use-text').text}")

        self.step("request an isgri_spectrum with the edited catalog")
        Select(self.by_id("product_type")).select_by_value("isgri_spectrum")
        if self.by_id("detection_threshold").is_displayed():
            raise FlowError("#detection_threshold is shown for a spectrum with a catalog, which does not use it")
        self.by_id("submit").click()
        spectrum_job = self.wait_done(previous_job=image_job)
        self.collect_logs()
        figs = self.plot_traces()
        crab = [f for f in figs if any(t["type"] == "scatter" and t["name"].startswith("Crab") for t in f["traces"])]
        if not crab:
            raise FlowError(f"no spectrum figure with a Crab trace ({figs})")
        view = self.fetch_json(f"/api/view/{spectrum_job}")
        if view.get("product_type") != "isgri_spectrum":
            raise FlowError(f"the view's product_type is {view.get('product_type')!r}")
        sc = view.get("parameters", {}).get("selected_catalog")
        if not sc:
            raise FlowError(f"the request did not carry selected_catalog (parameters: {sorted(view.get('parameters', {}))})")
        sc_names = json.loads(sc)["cat_column_list"][json.loads(sc)["cat_column_names"].index("src_names")]
        if "Cyg X-1" not in sc_names or any(n.startswith("NEW_") for n in sc_names):
            raise FlowError(f"the request's selected_catalog has sources {sc_names}")
        self.ok(f"figures {[f['id'] for f in figs]}; selected_catalog sources {sc_names}")
        d.execute_script("window.scrollTo(0, 0);")
        self.screenshot("spectrum.png")

        self.step("share URL: open it in a new tab, it re-runs the request")
        share = self.by_id("share-url").get_attribute("value")
        short = self.by_id("short-link").get_attribute("value")
        if not share.startswith(self.url + "/?") or "instrument=" not in share:
            raise FlowError(f"share URL {share!r} does not start with {self.url}/?instrument=…")
        if short != f"{self.url}/r/{spectrum_job}":
            raise FlowError(f"short link {short!r}, expected {self.url}/r/{spectrum_job}")
        for code_id in ("api-python", "api-rust", "api-curl"):
            text = self.js("return document.getElementById(arguments[0]).textContent;", code_id)
            if len(text.strip()) < 20:
                raise FlowError(f"#{code_id} is empty")
        first = d.current_window_handle
        self.collect_logs()
        d.switch_to.new_window("tab")
        if d.current_window_handle == first:
            raise FlowError("no new window handle for the share URL")
        d.get(share)
        shared_job = self.wait_done()
        self.collect_logs()
        if shared_job != spectrum_job:
            raise FlowError(f"the share URL gave job {shared_job}, the original was {spectrum_job}")
        shared_view = self.js("return window.oda && window.oda.view;")
        for key in ("product_type", "parameters", "figures", "catalog", "files", "query"):
            if shared_view.get(key) != view.get(key):
                raise FlowError(f"the shared view differs from the original in {key!r}")
        self.ok(f"same job {shared_job} and same view")

        self.step("short link: open /r/<job_id> in another tab")
        d.switch_to.new_window("tab")
        d.get(short)
        short_job = self.wait_done()
        self.collect_logs()
        if short_job != spectrum_job:
            raise FlowError(f"the short link gave job {short_job}, the original was {spectrum_job}")
        product = self.by_id("product_type").get_attribute("value")
        if product != "isgri_spectrum" or not self.by_id("catalog-in-use").is_displayed():
            raise FlowError(f"the short link filled product {product!r} / catalog in use "
                            f"{self.by_id('catalog-in-use').is_displayed()}")
        self.ok(f"same job {short_job}, form filled from /api/request")

        self.step("network: every request went to the site; console: no errors")
        for handle in d.window_handles:
            d.switch_to.window(handle)
            self.collect_logs()
        urls = [u for u in self.requests if not u.startswith(IGNORED_SCHEMES)]
        foreign = sorted({u for u in urls if urlsplit(u).hostname != self.host})
        if foreign:
            raise FlowError(f"requests to other hosts than {self.host}: {foreign}")
        paths = {urlsplit(u).path for u in urls}
        for needed in ("/", "/static/app.js", "/static/plotly.min.js", "/run_analysis", "/resolve_name"):
            if needed not in paths:
                raise FlowError(f"the performance log has no request for {needed} (logged paths: {sorted(paths)})")
        severe = [e for e in self.console if e.get("level") == "SEVERE"]
        if severe:
            raise FlowError("browser console errors:\n  " + "\n  ".join(e.get("message", str(e)) for e in severe))
        self.ok(f"{len(urls)} requests, all to {self.host}; {len(self.console)} console entries, none SEVERE")

    def close(self):
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True, help="the site, e.g. http://127.0.0.1:8000")
    ap.add_argument("--out", default=".", help="directory for the screenshots")
    ap.add_argument("--timeout", type=float, default=600, help="seconds to wait for each analysis")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    try:
        flow = Flow(args.url, args.out, args.timeout)
    except WebDriverException as e:
        print(f"FAIL: could not start Chromium ({CHROMIUM}) with {CHROMEDRIVER}: {e.msg}", file=sys.stderr)
        return 1
    try:
        flow.run()
    except (FlowError, WebDriverException, AssertionError, KeyError, ValueError, TypeError) as e:
        message = e.msg if isinstance(e, WebDriverException) else str(e)
        print(f"FAIL at step {flow.step_no}: {type(e).__name__}: {message}", file=sys.stderr)
        try:
            flow.driver.save_screenshot(os.path.join(args.out, "failure.png"))
            flow.collect_logs()
            for entry in flow.console:
                print(f"    console {entry.get('level')}: {entry.get('message')}", file=sys.stderr)
        except WebDriverException:
            pass
        return 1
    finally:
        flow.close()
    print("browser flow: all steps passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
