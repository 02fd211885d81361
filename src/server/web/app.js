// The web page of `oda serve`: the request form, the dispatcher protocol (submit, then poll
// every second until done or failed), the product view (plotly figures, editable catalog,
// tables, downloads, share links, API code).
//
// Hand-written, no framework, no build step. It talks only to the routes of the same site,
// by root-relative URLs. Text from the server is never parsed as HTML: every element is built
// with createElement/textContent (plotly draws names and hover texts itself, with its own
// sanitiser; they are escaped here before being handed over).
'use strict';

(function () {
  // ---------------------------------------------------------------- constants

  /** Products of each instrument. */
  const PRODUCTS = {
    isgri: ['isgri_image', 'isgri_spectrum', 'isgri_lc', 'spectral_fit'],
    jemx: ['jemx_image', 'jemx_spectrum', 'jemx_lc', 'spectral_fit'],
    spi_acs: ['spi_acs_lc'],
  };
  /** What SPI-ACS light curves use: the shield sees the whole sky, so no source or band. */
  const ACS_PARAMS = ['T1', 'T2', 'T_format', 'time_bin', 'data_level'];
  /** Per-instrument defaults that differ from ISGRI's (JEM-X's band, radius and a span when
   * JEM-X1 observed; a GRB's ten minutes for SPI-ACS). */
  const INSTRUMENT_DEFAULTS = {
    isgri: { time_bin: '1000', T1: '2003-03-15', T2: '2018-03-16', E1_keV: '20', E2_keV: '40', radius: '15' },
    jemx: { time_bin: '1000', T1: '2003-03-15', T2: '2004-03-01', E1_keV: '3', E2_keV: '20', radius: '4' },
    spi_acs: { time_bin: '0.1', T1: '2017-08-17T12:36:06.47', T2: '2017-08-17T12:46:06.47', E1_keV: '20', E2_keV: '40', radius: '15' },
  };
  /** Human names of the instruments for the tabs. */
  const INSTRUMENT_LABELS = { isgri: 'ISGRI', jemx: 'JEM-X', spi_acs: 'SPI-ACS' };
  /** Form fields sent as request parameters, in the order they are sent. */
  const PARAMS = ['src_name', 'RA', 'DEC', 'radius', 'T1', 'T2', 'T_format', 'E1_keV', 'E2_keV',
    'osa_version', 'max_pointings', 'scw_list', 'detection_threshold', 'time_bin',
    'xspec_model', 'data_level', 'jemx_num', 'selected_catalog'];
  /** Default values of the form (what a cleared field goes back to when a request is loaded). */
  const DEFAULTS = {
    src_name: '', RA: '', DEC: '', radius: '15', T1: '', T2: '', T_format: 'isot',
    E1_keV: '20', E2_keV: '40', osa_version: 'OSA11.2', max_pointings: '50', scw_list: '',
    product_type: 'isgri_image', detection_threshold: '7', time_bin: '1000',
    xspec_model: 'powerlaw', data_level: 'ordinary', jemx_num: '2', selected_catalog: '',
  };
  /** Images, spectra (with the fit) and light curves of the imaging instruments. */
  const IMAGES = ['isgri_image', 'jemx_image'];
  const SPECTRA = ['isgri_spectrum', 'jemx_spectrum', 'spectral_fit'];
  const LIGHT_CURVES = ['isgri_lc', 'jemx_lc'];
  /** Above this URL length the request goes as a POST form body. */
  const GET_LIMIT = 1500;
  const POLL_MS = 1000;
  const TOKEN_KEY = 'oda_token';
  /** ODA catalog columns, and the values of a source added by hand. */
  const CATALOG_COLUMNS = ['meta_ID', 'src_names', 'significance', 'ra', 'dec', 'NEW_SOURCE',
    'ISGRI_FLAG', 'FLAG', 'ERR_RAD'];
  const ADDED_SOURCE = { significance: 0, NEW_SOURCE: 0, ISGRI_FLAG: 2, FLAG: 0, ERR_RAD: 0.05 };

  // ---------------------------------------------------------------- state

  const state = {
    instrument: 'isgri',
    instruments: [],
    parNames: {},      // 'instrument/product' -> its parameter names (/api/par-names), when known
    run: null,         // the running request {params, sessionId, jobId, status, started}
    view: null,        // the last /api/view answer
    catalog: null,     // the editable catalog {meta, columns, rows: [{values, keep}]}
    lastAnswer: null,  // the last /run_analysis answer
  };
  // For tests and for the curious: the page's state, read-only by convention.
  window.oda = state;

  // ---------------------------------------------------------------- helpers

  const $ = (id) => document.getElementById(id);

  /** An element with attributes/properties and children (strings become text nodes). */
  function el(tag, props, children) {
    const e = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null) continue;
        if (k === 'text') e.textContent = v;
        else if (k === 'class') e.className = v;
        else if (k === 'dataset') Object.assign(e.dataset, v);
        else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
        else if (k in e && typeof v !== 'string') e[k] = v;
        else e.setAttribute(k, v);
      }
    }
    for (const c of [].concat(children || [])) {
      if (c === null || c === undefined) continue;
      e.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    }
    return e;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  /** Text for plotly (which reads a subset of HTML): &, < and > escaped. */
  function plotlyText(s) {
    return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  function randomId() {
    const a = new Uint8Array(12);
    crypto.getRandomValues(a);
    return Array.from(a, (b) => b.toString(36).padStart(2, '0')).join('').slice(0, 16).toUpperCase();
  }

  /** A number for a table cell: integers as they are, others to 4–5 significant digits. */
  function fmtNumber(v) {
    if (typeof v !== 'number') return v === null || v === undefined ? '' : String(v);
    if (!Number.isFinite(v)) return String(v);
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3);
    return String(Number(v.toPrecision(5)));
  }

  function fmtBytes(n) {
    if (typeof n !== 'number') return '';
    if (n < 1024) return n + ' B';
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + ' kB';
    if (n < 1024 * 1024 * 1024) return (n / 1024 / 1024).toFixed(1) + ' MB';
    return (n / 1024 / 1024 / 1024).toFixed(2) + ' GB';
  }

  /** Reads a JSON answer: {status, ok, json} (json null when the body is not JSON). */
  async function fetchJson(url, options) {
    const resp = await fetch(url, Object.assign({ credentials: 'same-origin', cache: 'no-store' }, options || {}));
    const text = await resp.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch (e) {
      json = null;
    }
    return { status: resp.status, ok: resp.ok, json, text };
  }

  /** The message of an error answer, whatever its shape. */
  function errorMessage(r) {
    const j = r.json;
    if (j && typeof j === 'object') {
      if (j.exit_status && j.exit_status.message) return j.exit_status.message;
      if (j.error) return String(j.error);
      if (j.exit_status && j.exit_status.error_message) return j.exit_status.error_message;
    }
    return `HTTP ${r.status}: ${(r.text || '').slice(0, 300) || 'no answer body'}`;
  }

  async function copyText(text, button) {
    let ok = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        ok = true;
      }
    } catch (e) {
      ok = false;
    }
    if (!ok) {
      const ta = el('textarea', { class: 'offscreen', readonly: 'readonly' });
      ta.value = text;
      document.body.appendChild(ta);
      ta.select();
      try {
        ok = document.execCommand('copy');
      } catch (e) {
        ok = false;
      }
      document.body.removeChild(ta);
    }
    if (button) {
      const label = button.textContent;
      button.textContent = ok ? 'Copied' : 'Copy failed';
      setTimeout(() => { button.textContent = label; }, 1500);
    }
  }

  // ---------------------------------------------------------------- status, errors, warnings

  function setStatus(stateName, text) {
    const s = $('status');
    s.dataset.state = stateName;
    $('status-text').textContent = text;
    $('submit').disabled = stateName === 'submitted' || stateName === 'progress';
    $('submit').textContent = $('submit').disabled ? 'Running…' : 'Submit';
  }

  function setJob(jobId) {
    $('status').dataset.jobId = jobId || '';
    $('status-job').textContent = jobId ? `job ${jobId}` : '';
  }

  function clearError() {
    const e = $('error');
    clear(e);
    e.hidden = true;
    for (const bad of document.querySelectorAll('.invalid')) bad.classList.remove('invalid');
  }

  /** Shows an error: a title, a message and optional details ([label, value] pairs). */
  function showError(title, message, details) {
    const e = $('error');
    clear(e);
    e.appendChild(el('strong', { text: title }));
    if (message) e.appendChild(el('p', { class: 'error-message', text: message }));
    const rows = (details || []).filter(([, v]) => v !== undefined && v !== null && v !== '');
    if (rows.length) {
      const dl = el('dl');
      for (const [k, v] of rows) {
        dl.appendChild(el('dt', { text: k }));
        dl.appendChild(el('dd', { class: 'mono', text: typeof v === 'string' ? v : JSON.stringify(v) }));
      }
      e.appendChild(dl);
    }
    e.hidden = false;
  }

  /** Marks the form field of a refused parameter. */
  function markInvalid(name) {
    if (!name) return;
    const field = $(name === 'product' ? 'product_type' : name);
    if (field) {
      field.classList.add('invalid');
      const group = field.closest('[data-param]');
      if (group && group.hidden) return;
      try { field.focus({ preventScroll: true }); } catch (e) { /* ignore */ }
    }
  }

  const shownWarnings = new Set();
  function clearWarnings() {
    shownWarnings.clear();
    clear($('warnings'));
    $('warnings').hidden = true;
  }
  function addWarnings(list) {
    const ul = $('warnings');
    for (const w of list) {
      const text = String(w || '').trim();
      if (!text || shownWarnings.has(text)) continue;
      shownWarnings.add(text);
      ul.appendChild(el('li', { text }));
    }
    ul.hidden = ul.childElementCount === 0;
  }
  /** exit_status.warning: one string, several warnings joined by "; ". */
  function splitWarning(w) {
    if (!w) return [];
    if (Array.isArray(w)) return w;
    return String(w).split(/;\s+/);
  }

  function showProgress(answer) {
    const reports = (answer.job_monitor && answer.job_monitor.full_report_dict_list) || [];
    const bar = $('progress');
    const msg = $('progress-message');
    const last = reports.length ? reports[reports.length - 1] : null;
    if (last) {
      const p = Number(last.progress);
      const max = Number(last.progress_max);
      if (Number.isFinite(p) && Number.isFinite(max) && max > 0) {
        bar.max = max;
        bar.value = Math.min(p, max);
      } else {
        bar.removeAttribute('value');
      }
      msg.textContent = last.message || last.node || '';
    } else {
      bar.removeAttribute('value');
      msg.textContent = '';
    }
    bar.hidden = false;
  }

  // ---------------------------------------------------------------- the form

  function productType() {
    return $('product_type').value;
  }
  function listMode() {
    return $('pointing-list').checked;
  }
  function hasCatalog() {
    return $('selected_catalog').value.trim() !== '';
  }

  /** Does the request use parameter `name`? (The server's rules: an unused parameter is a warning.) */
  function uses(name) {
    const p = productType();
    const cat = hasCatalog();
    const list = listMode();
    const known = state.parNames[`${state.instrument}/${p}`];
    if (known && !known.includes(name)) return false;
    if (p === 'spi_acs_lc') return ACS_PARAMS.includes(name);
    switch (name) {
      case 'time_bin':
        return LIGHT_CURVES.includes(p);
      case 'data_level':
        return false;
      case 'jemx_num':
        return state.instrument === 'jemx';
      case 'xspec_model':
        return p === 'spectral_fit';
      case 'detection_threshold':
        return IMAGES.includes(p) || !cat;
      case 'E1_keV':
      case 'E2_keV':
        return !(cat && SPECTRA.includes(p));
      case 'radius':
      case 'max_pointings':
        return !list;
      case 'scw_list':
        return list;
      case 'selected_catalog':
        return cat;
      default:
        return true;
    }
  }

  function updateVisibility() {
    for (const node of document.querySelectorAll('[data-param]')) {
      node.hidden = !uses(node.dataset.param);
    }
    const notes = [];
    const p = productType();
    if (hasCatalog() && !IMAGES.includes(p)) {
      notes.push('With a catalog in use, no image is searched for sources: the detection threshold'
        + (LIGHT_CURVES.includes(p) ? '' : ' and the imaging band') + ' are not needed.');
    }
    $('unused-note').textContent = notes.join(' ');
    $('unused-note').hidden = notes.length === 0;
  }

  /** The request's parameters from the form, as [name, value] pairs (without protocol fields). */
  function collectParams() {
    const pairs = [['instrument', state.instrument], ['product_type', productType()]];
    for (const name of PARAMS) {
      const field = $(name);
      if (!field || !uses(name)) continue;
      let v = field.value.trim();
      if (name === 'scw_list') v = v.split(/[\s,;]+/).filter(Boolean).join(',');
      if (v === '') continue;
      pairs.push([name, v]);
    }
    return pairs;
  }

  /** Fills the form from request parameters (a page query or /api/request). */
  function fillForm(params) {
    const get = (k) => (Object.prototype.hasOwnProperty.call(params, k) ? params[k] : undefined);
    const instrument = get('instrument');
    if (instrument) selectInstrument(String(instrument).toLowerCase(), true);
    const product = get('product_type') || get('product');
    for (const [name, def] of Object.entries(DEFAULTS)) {
      if (name === 'product_type' || name === 'selected_catalog') continue;
      const field = $(name);
      if (!field) continue;
      let v = get(name);
      const own = (INSTRUMENT_DEFAULTS[state.instrument] || {})[name];
      v = v === undefined || v === null ? (own !== undefined ? own : def) : String(v);
      if (name === 'T_format') v = v.toLowerCase();
      if (field.tagName === 'SELECT' && ![...field.options].some((o) => o.value === v)) {
        // Keep the value visible even if the page does not know it: the server will judge it.
        field.appendChild(el('option', { value: v, text: v }));
      }
      field.value = v;
    }
    if (product) {
      const field = $('product_type');
      if (![...field.options].some((o) => o.value === product)) {
        field.appendChild(el('option', { value: product, text: product }));
      }
      field.value = product;
    }
    $('pointing-list').checked = !!get('scw_list');
    $('pointing-random').checked = !get('scw_list');
    const cat = get('selected_catalog');
    if (cat) setCatalogInUse(typeof cat === 'string' ? cat : JSON.stringify(cat));
    else clearCatalogInUse();
    updateVisibility();
  }

  /** The page query's parameters as an object (the first value of a name). */
  function queryParams(search) {
    const out = {};
    for (const [k, v] of new URLSearchParams(search)) {
      if (!(k in out)) out[k] = v;
    }
    return out;
  }

  // ---------------------------------------------------------------- instruments

  function selectInstrument(name, quiet) {
    const before = INSTRUMENT_DEFAULTS[state.instrument] || {};
    const after = INSTRUMENT_DEFAULTS[name] || {};
    // Fields still at the previous instrument's default take the new one's.
    for (const [field, v] of Object.entries(after)) {
      const node = $(field);
      if (node && before[field] !== undefined && node.value === before[field]) node.value = v;
    }
    state.instrument = name;
    for (const tab of document.querySelectorAll('#instrument-tabs .tab')) {
      const on = tab.dataset.instrument === name;
      tab.classList.toggle('active', on);
      tab.setAttribute('aria-selected', on ? 'true' : 'false');
    }
    const products = PRODUCTS[name];
    const select = $('product_type');
    for (const o of select.options) o.disabled = products ? !products.includes(o.value) : false;
    if (products && !products.includes(select.value)) select.value = products[0];
    if (!quiet) updateVisibility();
  }

  async function loadInstruments() {
    let list = ['isgri'];
    try {
      const r = await fetchJson('/instr-list');
      if (r.ok && Array.isArray(r.json) && r.json.length) list = r.json.map(String);
    } catch (e) { /* keep the default */ }
    state.instruments = list;
    const nav = $('instrument-tabs');
    clear(nav);
    for (const name of list) {
      nav.appendChild(el('button', {
        type: 'button', role: 'tab', class: 'tab', id: `instr-${name}`,
        dataset: { instrument: name },
        text: INSTRUMENT_LABELS[name] || name.toUpperCase(),
        onclick: () => selectInstrument(name),
      }));
    }
    selectInstrument(list.includes(state.instrument) ? state.instrument : list[0]);
  }

  async function loadParNames() {
    const asked = [];
    for (const instrument of state.instruments) {
      for (const p of PRODUCTS[instrument] || []) asked.push([instrument, p]);
    }
    await Promise.all(asked.map(async ([instrument, p]) => {
      try {
        const q = new URLSearchParams({ instrument, product_type: p });
        const r = await fetchJson('/api/par-names?' + q);
        if (r.ok && Array.isArray(r.json)) state.parNames[`${instrument}/${p}`] = r.json.map(String);
      } catch (e) { /* the built-in rules apply */ }
    }));
    updateVisibility();
  }

  // ---------------------------------------------------------------- resolving names

  async function resolveName(name) {
    const r = await fetchJson('/resolve_name?' + new URLSearchParams({ name }));
    if (r.ok && r.json && Number.isFinite(Number(r.json.RA)) && Number.isFinite(Number(r.json.DEC))) {
      return { ok: true, name: r.json.name || name, ra: Number(r.json.RA), dec: Number(r.json.DEC), message: r.json.message || '' };
    }
    let message = errorMessage(r);
    if (r.json && Array.isArray(r.json.suggestions) && r.json.suggestions.length && !/did you mean/i.test(message)) {
      message += ` — did you mean ${r.json.suggestions.join(', ')}?`;
    }
    return { ok: false, message };
  }

  async function onResolve() {
    const name = $('src_name').value.trim();
    const msg = $('resolve-message');
    msg.classList.remove('bad');
    if (!name) {
      msg.textContent = 'Type a source name first.';
      msg.classList.add('bad');
      return;
    }
    msg.textContent = `Resolving ${name}…`;
    try {
      const r = await resolveName(name);
      if (r.ok) {
        $('src_name').value = r.name;
        $('RA').value = String(r.ra);
        $('DEC').value = String(r.dec);
        $('RA').dataset.resolved = $('DEC').dataset.resolved = r.name;
        msg.textContent = `${r.name}: RA ${r.ra.toFixed(4)}°, Dec ${r.dec >= 0 ? '+' : ''}${r.dec.toFixed(4)}°${r.message ? ' — ' + r.message : ''}`;
      } else {
        msg.textContent = r.message;
        msg.classList.add('bad');
      }
    } catch (e) {
      msg.textContent = `The name could not be resolved: ${e.message}`;
      msg.classList.add('bad');
    }
  }

  // ---------------------------------------------------------------- running a request

  function token() {
    return $('token').value.trim();
  }

  /** One /run_analysis call: GET, or POST with a form body when the URL would be long. */
  function callRunAnalysis(run) {
    const pairs = run.params.slice();
    pairs.push(['query_status', run.status]);
    pairs.push(['session_id', run.sessionId]);
    if (run.jobId) pairs.push(['job_id', run.jobId]);
    const t = token();
    if (t) pairs.push(['token', t]);
    const body = new URLSearchParams(pairs).toString();
    const url = '/run_analysis?' + body;
    if (url.length <= GET_LIMIT) return fetchJson(url);
    return fetchJson('/run_analysis', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body,
    });
  }

  function elapsed(run) {
    return Math.round((Date.now() - run.started) / 1000);
  }

  async function startAnalysis() {
    const run = {
      params: collectParams(),
      sessionId: randomId(),
      jobId: null,
      status: 'new',
      started: Date.now(),
    };
    state.run = run;
    state.lastAnswer = null;
    clearError();
    clearWarnings();
    hideResults();
    setJob('');
    $('progress').hidden = false;
    $('progress').removeAttribute('value');
    $('progress-message').textContent = '';
    setStatus('submitted', 'Submitting the request…');
    try {
      await pollLoop(run);
    } catch (e) {
      if (run !== state.run) return;
      showError('The site could not be reached', e && e.message ? e.message : String(e));
      finishProgress();
      setStatus('failed', 'Failed: no answer from the site.');
    }
  }

  function finishProgress() {
    $('progress').hidden = true;
  }

  async function pollLoop(run) {
    for (;;) {
      const r = await callRunAnalysis(run);
      if (run !== state.run) return; // superseded by a newer request
      const a = r.json;
      if (r.status === 400) {
        const err = a || {};
        showError('The request was refused (HTTP 400)', err.error || errorMessage(r), [
          ['parameter', err.parameter], ['value', err.value], ['allowed', err.allowed],
        ]);
        markInvalid(err.parameter);
        finishProgress();
        setStatus('failed', 'Refused: a parameter is invalid.');
        return;
      }
      if (r.status === 403) {
        const msg = (a && a.exit_status && a.exit_status.message) || errorMessage(r);
        showError('Not authorised (HTTP 403)', msg, [['missing roles', a && a.missing_roles && a.missing_roles.join(', ')]]);
        finishProgress();
        setStatus('failed', 'Refused (HTTP 403): see why below.');
        return;
      }
      if (!r.ok || !a || typeof a !== 'object') {
        showError(`The site answered HTTP ${r.status}`, errorMessage(r));
        finishProgress();
        setStatus('failed', 'Failed.');
        return;
      }
      state.lastAnswer = a;
      const es = a.exit_status || {};
      addWarnings(splitWarning(es.warning));
      const jm = a.job_monitor || {};
      if (jm.job_id) {
        run.jobId = jm.job_id;
        setJob(jm.job_id);
      }
      const qs = a.query_status || jm.status || '';
      run.status = qs;
      showProgress(a);
      if (qs === 'done') {
        if (!run.jobId) {
          showError('The answer is incomplete', 'the dispatcher said done without a job id (job_monitor.job_id)');
          finishProgress();
          setStatus('failed', 'Failed.');
          return;
        }
        setStatus('progress', 'Done: loading the product…');
        await loadView(run);
        return;
      }
      if (qs === 'failed') {
        showError('The analysis failed', es.error_message || es.message || 'no reason given', [
          ['message', es.message && es.message !== es.error_message ? es.message : ''],
          ['details', es.debug_message],
        ]);
        finishProgress();
        setStatus('failed', `Failed after ${elapsed(run)} s.`);
        return;
      }
      setStatus(qs === 'progress' ? 'progress' : 'submitted',
        `${qs === 'progress' ? 'Running' : 'Queued'} (${elapsed(run)} s)…`);
      await sleep(POLL_MS);
      if (run !== state.run) return;
    }
  }

  async function loadView(run) {
    const r = await fetchJson('/api/view/' + encodeURIComponent(run.jobId));
    if (run !== state.run) return;
    if (!r.ok || !r.json) {
      showError(`The product view could not be loaded (HTTP ${r.status})`, errorMessage(r));
      finishProgress();
      setStatus('failed', 'Failed: the product could not be shown.');
      return;
    }
    state.view = r.json;
    try {
      await renderView(r.json);
    } catch (e) {
      showError('The product could not be drawn', e && e.message ? e.message : String(e));
      finishProgress();
      setStatus('failed', 'Failed: the product could not be drawn.');
      return;
    }
    finishProgress();
    setStatus('done', `Done (answered in ${elapsed(run)} s).`);
  }

  // ---------------------------------------------------------------- results

  function hideResults() {
    $('results').hidden = true;
    const figs = $('figures');
    if (window.Plotly) {
      for (const d of figs.querySelectorAll('.js-plotly-plot')) {
        try { window.Plotly.purge(d); } catch (e) { /* ignore */ }
      }
    }
    clear(figs);
    clear($('tables'));
    clear($('downloads'));
    clear($('log'));
    for (const id of ['api-python', 'api-rust', 'api-curl']) $(id).textContent = '';
    $('share-url').value = '';
    $('short-link').value = '';
    $('catalog-section').hidden = true;
    $('tables-section').hidden = true;
    state.catalog = null;
    state.view = null;
  }

  async function renderView(view) {
    $('results').hidden = false;
    const params = view.parameters || {};
    const what = [view.product_type, params.src_name].filter(Boolean).join(' — ');
    $('result-title').textContent = what || 'Result';
    addWarnings(view.warnings || []);
    renderFigures(view.figures || []);
    renderCatalog(view.catalog);
    renderTables(view.tables || []);
    renderDownloads(view);
    renderShare(view);
    renderApiCode(view.api_code || {});
    renderLog(view);
  }

  // ---- figures

  function renderFigures(figures) {
    const box = $('figures');
    clear(box);
    if (!figures.length) {
      box.appendChild(el('p', { class: 'hint', text: 'This product has no figure (see the files and tables).' }));
      return;
    }
    if (!window.Plotly) throw new Error('plotly.js did not load (/static/plotly.min.js)');
    figures.forEach((fig, i) => {
      const plot = el('div', { class: 'plot', id: `figure-${i}`, dataset: { figure: fig.id || String(i) } });
      box.appendChild(el('div', { class: 'figure' }, [plot]));
      // Plotly writes into the objects it is given: it gets copies, the view stays as served.
      const f = JSON.parse(JSON.stringify(fig.plotly || { data: [], layout: {} }));
      if (fig.sky && f.data && f.data.some((t) => t.type === 'heatmap')) {
        drawSkyMap(plot, fig.sky, f);
      } else {
        window.Plotly.newPlot(plot, f.data || [], f.layout || {}, { responsive: true, displaylogo: false });
      }
    });
  }

  // ---- sky maps: the server's figure is in tangent-plane offsets (ξ, η) in degrees around
  // (ra0, dec0), east to the left. The page adds RA/Dec hover texts, an RA/Dec grid and RA/Dec
  // tick labels along the bottom and left edges (recomputed on zoom).

  const D2R = Math.PI / 180;

  /** (ξ, η) degrees → [RA, Dec] degrees (gnomonic projection around ra0, dec0). */
  function tanToSky(sky, xi, eta) {
    const x = xi * D2R;
    const y = eta * D2R;
    const d0 = sky.dec0 * D2R;
    const den = Math.cos(d0) - y * Math.sin(d0);
    let ra = sky.ra0 + Math.atan2(x, den) / D2R;
    const dec = Math.atan2(Math.sin(d0) + y * Math.cos(d0), Math.hypot(x, den)) / D2R;
    ra = ((ra % 360) + 360) % 360;
    return [ra, dec];
  }

  /** [RA, Dec] degrees → [ξ, η] degrees, or null on the far hemisphere. */
  function skyToTan(sky, ra, dec) {
    const a = (ra - sky.ra0) * D2R;
    const d = dec * D2R;
    const d0 = sky.dec0 * D2R;
    const cosc = Math.sin(d0) * Math.sin(d) + Math.cos(d0) * Math.cos(d) * Math.cos(a);
    if (cosc <= 1e-6) return null;
    const xi = Math.cos(d) * Math.sin(a) / cosc;
    const eta = (Math.cos(d0) * Math.sin(d) - Math.sin(d0) * Math.cos(d) * Math.cos(a)) / cosc;
    return [xi / D2R, eta / D2R];
  }

  /** RA − ra0 wrapped into (−180, 180]. */
  function dRa(sky, ra) {
    let d = ((ra - sky.ra0) % 360 + 540) % 360 - 180;
    if (d === -180) d = 180;
    return d;
  }

  function niceStep(span, target) {
    const steps = [1 / 60, 2 / 60, 5 / 60, 10 / 60, 0.25, 0.5, 1, 2, 5, 10, 15, 20, 30, 45, 60, 90];
    for (const s of steps) if (span / s <= target) return s;
    return 90;
  }

  function fmtDeg(v, step, signed) {
    const decimals = step >= 1 ? 0 : step >= 0.25 ? 2 : 3;
    let s = (Math.round(v / step) * step).toFixed(decimals);
    if (s === '-0' || /^-0\.0+$/.test(s)) s = s.slice(1);
    if (signed && !s.startsWith('-')) s = '+' + s;
    return s + '°';
  }

  function axisRange(div, key) {
    const full = div._fullLayout && div._fullLayout[key];
    const r = (full && full.range) || (div.layout[key] && div.layout[key].range);
    return [Math.min(r[0], r[1]), Math.max(r[0], r[1])];
  }

  /** The RA/Dec extent of the view [x0, x1] × [y0, y1] (sampled). */
  function skyExtent(sky, xr, yr) {
    let raLo = Infinity, raHi = -Infinity, decLo = Infinity, decHi = -Infinity;
    const n = 24;
    for (let i = 0; i <= n; i++) {
      for (let j = 0; j <= n; j++) {
        const [ra, dec] = tanToSky(sky, xr[0] + (xr[1] - xr[0]) * i / n, yr[0] + (yr[1] - yr[0]) * j / n);
        const d = dRa(sky, ra);
        raLo = Math.min(raLo, d); raHi = Math.max(raHi, d);
        decLo = Math.min(decLo, dec); decHi = Math.max(decHi, dec);
      }
    }
    // A pole in view: every RA is there.
    for (const pole of [90, -90]) {
      const p = skyToTan(sky, sky.ra0, pole);
      if (p && p[0] >= xr[0] && p[0] <= xr[1] && p[1] >= yr[0] && p[1] <= yr[1]) {
        raLo = -180; raHi = 180;
        if (pole > 0) decHi = 90; else decLo = -90;
      }
    }
    return { raLo, raHi, decLo, decHi };
  }

  /** Grid lines (one trace's x/y with null breaks) and the edge ticks for the current view. */
  function skyGrid(sky, xr, yr) {
    const ext = skyExtent(sky, xr, yr);
    const raStep = niceStep(ext.raHi - ext.raLo, 6);
    const decStep = niceStep(ext.decHi - ext.decLo, 6);
    const gx = [], gy = [];
    const raValues = [];
    for (let k = Math.floor((sky.ra0 + ext.raLo) / raStep); k <= Math.ceil((sky.ra0 + ext.raHi) / raStep); k++) {
      raValues.push(k * raStep);
    }
    const decValues = [];
    for (let k = Math.ceil(ext.decLo / decStep); k <= Math.floor(ext.decHi / decStep); k++) {
      const d = k * decStep;
      if (Math.abs(d) < 90) decValues.push(d);
    }
    const pad = 0.1 * Math.max(ext.decHi - ext.decLo, 1);
    const steps = 80;
    for (const ra of raValues) {
      const d0 = Math.max(-89.9, ext.decLo - pad), d1 = Math.min(89.9, ext.decHi + pad);
      for (let i = 0; i <= steps; i++) {
        const p = skyToTan(sky, ra, d0 + (d1 - d0) * i / steps);
        gx.push(p ? p[0] : null); gy.push(p ? p[1] : null);
      }
      gx.push(null); gy.push(null);
    }
    const rpad = 0.1 * Math.max(ext.raHi - ext.raLo, 1);
    for (const dec of decValues) {
      const a0 = sky.ra0 + ext.raLo - rpad, a1 = sky.ra0 + ext.raHi + rpad;
      for (let i = 0; i <= steps; i++) {
        const p = skyToTan(sky, a0 + (a1 - a0) * i / steps, dec);
        gx.push(p ? p[0] : null); gy.push(p ? p[1] : null);
      }
      gx.push(null); gy.push(null);
    }
    // Ticks: where the meridians cross the bottom edge, the parallels the left edge (east = larger ξ).
    const xticks = edgeCrossings(raValues, (t) => tanToSky(sky, t, yr[0])[0], xr, true);
    const yticks = edgeCrossings(decValues, (t) => tanToSky(sky, xr[1], t)[1], yr, false);
    return {
      gx, gy,
      xvals: xticks.map((c) => c.at), xtext: xticks.map((c) => fmtDeg(((c.value % 360) + 360) % 360, raStep, false)),
      yvals: yticks.map((c) => c.at), ytext: yticks.map((c) => fmtDeg(c.value, decStep, true)),
    };
  }

  /** For each value, the t in range where f(t) = value (bisection on sampled brackets). */
  function edgeCrossings(values, f, range, wrapRa) {
    const n = 200;
    const ts = [], fs = [];
    for (let i = 0; i <= n; i++) {
      const t = range[0] + (range[1] - range[0]) * i / n;
      ts.push(t); fs.push(f(t));
    }
    const diff = (a, b) => (wrapRa ? ((a - b) % 360 + 540) % 360 - 180 : a - b);
    const out = [];
    for (const v of values) {
      for (let i = 0; i < n; i++) {
        const a = diff(fs[i], v), b = diff(fs[i + 1], v);
        if (a === 0 || a * b < 0 && Math.abs(a - b) < 90) {
          let lo = ts[i], hi = ts[i + 1], flo = a;
          for (let k = 0; k < 40; k++) {
            const mid = (lo + hi) / 2;
            const fm = diff(f(mid), v);
            if (fm === 0) { lo = hi = mid; break; }
            if (fm * flo < 0) hi = mid; else { lo = mid; flo = fm; }
          }
          out.push({ value: v, at: (lo + hi) / 2 });
          break;
        }
      }
    }
    return out;
  }

  function drawSkyMap(div, skyCentre, fig) {
    const sky = { ra0: Number(skyCentre.ra0), dec0: Number(skyCentre.dec0) };
    const data = fig.data;
    const layout = fig.layout || {};
    const hi = data.findIndex((t) => t.type === 'heatmap');
    const heat = data[hi];
    const z = heat.z || [];
    const x0 = Number(heat.x0 || 0), dx = Number(heat.dx || 1), y0 = Number(heat.y0 || 0), dy = Number(heat.dy || 1);
    heat.text = z.map((row, r) => row.map((_, c) => {
      const [ra, dec] = tanToSky(sky, x0 + c * dx, y0 + r * dy);
      return `RA ${ra.toFixed(3)}°, Dec ${dec >= 0 ? '+' : ''}${dec.toFixed(3)}°`;
    }));
    const zTitle = heat.colorbar && heat.colorbar.title && heat.colorbar.title.text ? heat.colorbar.title.text : 'value';
    heat.hovertemplate = `%{text}<br>${plotlyText(zTitle)}: %{z:.2f}<extra></extra>`;
    // The grid, drawn over the map and under the catalog.
    data.splice(hi + 1, 0, {
      type: 'scatter', mode: 'lines', name: 'RA/Dec grid', x: [], y: [],
      xaxis: heat.xaxis, yaxis: heat.yaxis,
      line: { color: 'rgba(255,255,255,0.45)', width: 1 },
      hoverinfo: 'skip', showlegend: false, connectgaps: false,
    });
    const xa = layout.xaxis || (layout.xaxis = {});
    const ya = layout.yaxis || (layout.yaxis = {});
    xa.title = { text: 'RA (deg, J2000) — east ←' };
    ya.title = { text: 'Dec (deg, J2000)' };
    xa.showgrid = false;
    ya.showgrid = false;
    xa.zeroline = false;
    ya.zeroline = false;
    div.dataset.sky = JSON.stringify(sky);
    window.Plotly.newPlot(div, data, layout, { responsive: true, displaylogo: false });
    div.classList.add('sky-map');
    updateSkyOverlay(div, sky);
    div.on('plotly_relayout', (ev) => {
      const keys = Object.keys(ev || {});
      if (keys.length && keys.every((k) => /tick|title|annotations|shapes/.test(k))) return;
      if (keys.length && keys.every((k) => k === 'autosize' || k === 'width' || k === 'height')) return;
      updateSkyOverlay(div, sky);
    });
  }

  function updateSkyOverlay(div, sky) {
    const xr = axisRange(div, 'xaxis');
    const yr = axisRange(div, 'yaxis');
    const g = skyGrid(sky, xr, yr);
    const gi = div.data.findIndex((t) => t.name === 'RA/Dec grid');
    if (gi >= 0) window.Plotly.restyle(div, { x: [g.gx], y: [g.gy] }, [gi]);
    window.Plotly.relayout(div, {
      'xaxis.tickmode': 'array', 'xaxis.tickvals': g.xvals, 'xaxis.ticktext': g.xtext,
      'yaxis.tickmode': 'array', 'yaxis.tickvals': g.yvals, 'yaxis.ticktext': g.ytext,
    });
  }

  /** Redraws the catalog markers of the sky map from the edited catalog. */
  function updateMapCatalog() {
    const div = document.querySelector('#figures .sky-map');
    if (!div || !state.catalog || !div.dataset.sky) return;
    const sky = JSON.parse(div.dataset.sky);
    const ci = div.data.findIndex((t) => t.type === 'scatter' && t.name === 'catalog');
    const rows = keptRows();
    const x = [], y = [], text = [], hover = [];
    const col = (name) => state.catalog.columns.indexOf(name);
    const [iName, iRa, iDec, iSig] = [col('src_names'), col('ra'), col('dec'), col('significance')];
    for (const row of rows) {
      const p = skyToTan(sky, Number(row.values[iRa]), Number(row.values[iDec]));
      if (!p) continue;
      x.push(p[0]); y.push(p[1]);
      const name = String(row.values[iName]);
      text.push(plotlyText(name));
      const sig = iSig >= 0 ? Number(row.values[iSig]) : NaN;
      hover.push(plotlyText(`${name}: RA ${Number(row.values[iRa]).toFixed(3)}°, Dec ${Number(row.values[iDec]) >= 0 ? '+' : ''}${Number(row.values[iDec]).toFixed(3)}°`
        + (Number.isFinite(sig) && sig > 0 ? `, ${sig.toFixed(1)}σ` : row.added ? ' (added)' : '')));
    }
    if (ci >= 0) {
      window.Plotly.restyle(div, { x: [x], y: [y], text: [text], hovertext: [hover] }, [ci]);
    } else if (x.length) {
      window.Plotly.addTraces(div, {
        type: 'scatter', mode: 'markers+text', name: 'catalog', x, y, text, hovertext: hover,
        hoverinfo: 'text', textposition: 'top right', textfont: { color: '#ff5ec4' },
        marker: { symbol: 'circle-open', size: 14, color: '#ff5ec4', line: { width: 2 } },
      });
    }
  }

  // ---- the editable catalog

  function renderCatalog(cat) {
    const section = $('catalog-section');
    if (!cat || !Array.isArray(cat.cat_column_names) || !Array.isArray(cat.cat_column_list)) {
      section.hidden = true;
      state.catalog = null;
      return;
    }
    const columns = cat.cat_column_names.map(String);
    const n = cat.cat_column_list.reduce((m, c) => Math.max(m, Array.isArray(c) ? c.length : 0), 0);
    const rows = [];
    for (let i = 0; i < n; i++) {
      rows.push({ values: columns.map((_, k) => (cat.cat_column_list[k] || [])[i]), keep: true, added: false });
    }
    const meta = {};
    for (const [k, v] of Object.entries(cat)) {
      if (k !== 'cat_column_names' && k !== 'cat_column_list') meta[k] = v;
    }
    state.catalog = { meta, columns, rows };
    $('catalog-message').textContent = '';
    section.hidden = false;
    drawCatalogTable();
  }

  function keptRows() {
    return state.catalog ? state.catalog.rows.filter((r) => r.keep) : [];
  }

  function drawCatalogTable() {
    const cat = state.catalog;
    const table = $('catalog-table');
    clear(table);
    const head = el('tr', null, [el('th', { text: 'use', title: 'untick to drop the source' })]);
    const units = { significance: 'σ', ra: 'deg', dec: 'deg', ERR_RAD: 'deg' };
    for (const c of cat.columns) {
      head.appendChild(el('th', null, [c, units[c] ? el('span', { class: 'unit', text: ` (${units[c]})` }) : null]));
    }
    head.appendChild(el('th', { text: '' }));
    table.appendChild(el('thead', null, [head]));
    const body = el('tbody');
    const iName = cat.columns.indexOf('src_names');
    const iNew = cat.columns.indexOf('NEW_SOURCE');
    cat.rows.forEach((row, idx) => {
      const name = iName >= 0 ? String(row.values[iName]) : String(idx);
      const isNew = (iNew >= 0 && Number(row.values[iNew]) > 0) || /^NEW_/.test(name);
      const tr = el('tr', {
        class: [row.keep ? '' : 'dropped', isNew ? 'new-source' : '', row.added ? 'added' : ''].filter(Boolean).join(' '),
        dataset: { srcName: name, row: String(idx) },
      });
      const box = el('input', { type: 'checkbox', class: 'keep', title: `use ${name}` });
      box.checked = row.keep;
      box.addEventListener('change', () => {
        row.keep = box.checked;
        tr.classList.toggle('dropped', !row.keep);
        catalogChanged();
      });
      tr.appendChild(el('td', null, [box]));
      cat.columns.forEach((c, k) => {
        const v = row.values[k];
        const td = el('td', { text: fmtNumber(v) });
        if (typeof v === 'number') td.className = 'num';
        if (c === 'src_names') td.className = 'name';
        tr.appendChild(td);
      });
      tr.appendChild(el('td', null, [el('button', {
        type: 'button', class: 'link delete', title: `delete ${name}`, text: '✕',
        'aria-label': `delete ${name}`,
        onclick: () => {
          cat.rows.splice(cat.rows.indexOf(row), 1);
          drawCatalogTable();
          catalogChanged();
        },
      })]));
      body.appendChild(tr);
    });
    table.appendChild(body);
    updateCatalogCount();
  }

  function updateCatalogCount() {
    const kept = keptRows().length;
    const total = state.catalog ? state.catalog.rows.length : 0;
    $('catalog-count').textContent = `${kept} of ${total} source${total === 1 ? '' : 's'} selected`;
    $('use-catalog').disabled = kept === 0;
  }

  function catalogChanged() {
    updateCatalogCount();
    updateMapCatalog();
  }

  function dropNew() {
    const cat = state.catalog;
    if (!cat) return;
    const iName = cat.columns.indexOf('src_names');
    const before = cat.rows.length;
    cat.rows = cat.rows.filter((r) => !/^NEW_/.test(String(r.values[iName])));
    const dropped = before - cat.rows.length;
    $('catalog-message').textContent = dropped ? `Dropped ${dropped} NEW_ source${dropped === 1 ? '' : 's'}.` : 'There are no NEW_ sources.';
    drawCatalogTable();
    catalogChanged();
  }

  function addCatalogRow(name, ra, dec) {
    const cat = state.catalog;
    const iName = cat.columns.indexOf('src_names');
    if (cat.rows.some((r) => String(r.values[iName]).toLowerCase() === name.toLowerCase())) {
      return `${name} is already in the catalog.`;
    }
    const iId = cat.columns.indexOf('meta_ID');
    const nextId = cat.rows.reduce((m, r) => Math.max(m, Number(r.values[iId]) || 0), -1) + 1;
    const values = cat.columns.map((c) => {
      if (c === 'meta_ID') return nextId;
      if (c === 'src_names') return name;
      if (c === 'ra') return ra;
      if (c === 'dec') return dec;
      if (c in ADDED_SOURCE) return ADDED_SOURCE[c];
      return 0;
    });
    cat.rows.push({ values, keep: true, added: true });
    drawCatalogTable();
    catalogChanged();
    return '';
  }

  async function onAddSource() {
    const msg = $('catalog-message');
    msg.classList.remove('bad');
    if (!state.catalog) return;
    let name = $('add-source-name').value.trim();
    const raText = $('add-source-ra').value.trim();
    const decText = $('add-source-dec').value.trim();
    let ra, dec;
    if (raText !== '' || decText !== '') {
      ra = Number(raText);
      dec = Number(decText);
      if (raText === '' || decText === '' || !Number.isFinite(ra) || !Number.isFinite(dec) || ra < 0 || ra >= 360 || dec < -90 || dec > 90) {
        msg.textContent = 'Give both RA in [0, 360) and Dec in [−90, 90] degrees (or only a name to resolve).';
        msg.classList.add('bad');
        return;
      }
      if (!name) name = `RA${ra.toFixed(3)}_DEC${dec >= 0 ? '+' : ''}${dec.toFixed(3)}`;
    } else {
      if (!name) {
        msg.textContent = 'Give a source name (resolved on this site) or RA and Dec.';
        msg.classList.add('bad');
        return;
      }
      msg.textContent = `Resolving ${name}…`;
      const r = await resolveName(name);
      if (!r.ok) {
        msg.textContent = r.message;
        msg.classList.add('bad');
        return;
      }
      name = r.name;
      ra = r.ra;
      dec = r.dec;
    }
    const problem = addCatalogRow(name, ra, dec);
    if (problem) {
      msg.textContent = problem;
      msg.classList.add('bad');
      return;
    }
    msg.textContent = `Added ${name} (RA ${ra.toFixed(3)}°, Dec ${dec >= 0 ? '+' : ''}${dec.toFixed(3)}°).`;
    $('add-source-name').value = '';
    $('add-source-ra').value = '';
    $('add-source-dec').value = '';
  }

  /** The edited catalog as an ODA catalog dict (the columns as received, kept rows only). */
  function editedCatalog() {
    const cat = state.catalog;
    const rows = keptRows();
    const out = Object.assign({}, cat.meta);
    out.cat_column_names = cat.columns.slice();
    out.cat_column_list = cat.columns.map((_, k) => rows.map((r) => r.values[k]));
    return out;
  }

  function setCatalogInUse(json) {
    $('selected_catalog').value = json;
    let summary = 'A catalog is in use for the next request';
    try {
      const c = JSON.parse(json);
      const obj = typeof c === 'string' ? JSON.parse(c) : c;
      const names = obj.cat_column_list[obj.cat_column_names.indexOf('src_names')] || [];
      const shown = names.slice(0, 6).join(', ') + (names.length > 6 ? ', …' : '');
      summary = `Catalog in use: ${names.length} source${names.length === 1 ? '' : 's'} (${shown})`;
    } catch (e) { /* the summary stays generic; the server judges the JSON */ }
    $('catalog-in-use-text').textContent = summary;
    $('catalog-in-use').hidden = false;
    updateVisibility();
  }

  function clearCatalogInUse() {
    $('selected_catalog').value = '';
    $('catalog-in-use').hidden = true;
    updateVisibility();
  }

  function useCatalog() {
    if (!state.catalog || keptRows().length === 0) return;
    setCatalogInUse(JSON.stringify(editedCatalog()));
    $('catalog-message').textContent = 'This catalog will be used by the next request: choose a product and submit.';
    $('catalog-in-use').classList.remove('flash');
    void $('catalog-in-use').offsetWidth;
    $('catalog-in-use').classList.add('flash');
  }

  // ---- tables, downloads, share, code, log

  function renderTables(tables) {
    const box = $('tables');
    clear(box);
    for (const t of tables) {
      const table = el('table', { class: 'data', id: `table-${t.id || ''}` });
      if (t.title) table.appendChild(el('caption', { text: t.title }));
      table.appendChild(el('thead', null, [el('tr', null, (t.columns || []).map((c) => el('th', { text: String(c) })))]));
      const body = el('tbody');
      for (const row of t.rows || []) {
        body.appendChild(el('tr', null, (row || []).map((v) => el('td', { class: typeof v === 'number' ? 'num' : '', text: fmtNumber(v) }))));
      }
      table.appendChild(body);
      box.appendChild(el('div', { class: 'table-wrap' }, [table]));
    }
    $('tables-section').hidden = tables.length === 0;
  }

  function downloadUrl(pairs) {
    return '/download_products?' + new URLSearchParams(pairs).toString();
  }

  function renderDownloads(view) {
    const ul = $('downloads');
    clear(ul);
    const jobId = view.job_id;
    for (const f of view.files || []) {
      const href = downloadUrl([['job_id', jobId], ['file_list', f.name], ['return_archive', 'False']]);
      const a = el('a', { href, text: f.name, download: String(f.name).split('/').pop() });
      const meta = [f.kind, f.source, fmtBytes(f.bytes)].filter(Boolean).join(' · ');
      ul.appendChild(el('li', null, [a, meta ? el('span', { class: 'hint', text: ` ${meta}` }) : null]));
    }
    const name = `${view.product_type || 'product'}-${String(jobId).slice(0, 8)}`;
    $('download-all').href = downloadUrl([['job_id', jobId], ['return_archive', 'True'], ['download_file_name', name]]);
    $('download-all').setAttribute('download', name + '.zip');
  }

  function renderShare(view) {
    $('share-url').value = view.query ? `${location.origin}/?${view.query}` : '';
    $('short-link').value = view.short_link ? location.origin + view.short_link : '';
  }

  function renderApiCode(code) {
    $('api-python').textContent = code.python || '';
    $('api-rust').textContent = code.rust || '';
    $('api-curl').textContent = code.curl || '';
  }

  function renderLog(view) {
    const box = $('log');
    clear(box);
    const log = view.log;
    const dl = el('dl', { class: 'log' });
    const add = (k, v) => {
      dl.appendChild(el('dt', { text: k }));
      dl.appendChild(el('dd', { text: typeof v === 'string' ? v : JSON.stringify(v) }));
    };
    if (Array.isArray(view.scws)) add('pointings (ScW)', `${view.scws.length}: ${view.scws.join(', ')}`);
    if (view.identity) add('identity', view.identity);
    if (Array.isArray(log)) {
      log.forEach((line, i) => add(String(i + 1), line));
    } else if (log && typeof log === 'object') {
      for (const [k, v] of Object.entries(log)) add(k, v);
    }
    box.appendChild(dl);
  }

  // ---------------------------------------------------------------- wiring

  function wire() {
    $('query-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      startAnalysis();
    });
    $('resolve').addEventListener('click', onResolve);
    $('src_name').addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') {
        ev.preventDefault();
        onResolve();
      }
    });
    // A position resolved from a name is forgotten when the name changes.
    $('src_name').addEventListener('input', () => {
      if ($('RA').dataset.resolved) {
        $('RA').value = '';
        $('DEC').value = '';
        delete $('RA').dataset.resolved;
        delete $('DEC').dataset.resolved;
        $('resolve-message').textContent = '';
      }
    });
    for (const id of ['RA', 'DEC']) {
      $(id).addEventListener('input', () => { delete $('RA').dataset.resolved; delete $('DEC').dataset.resolved; });
    }
    $('product_type').addEventListener('change', updateVisibility);
    $('pointing-random').addEventListener('change', updateVisibility);
    $('pointing-list').addEventListener('change', updateVisibility);
    for (const input of document.querySelectorAll('#query-form input, #query-form select, #query-form textarea')) {
      input.addEventListener('input', () => input.classList.remove('invalid'));
    }
    $('token').value = sessionStorage.getItem(TOKEN_KEY) || '';
    // The token also rides in a session cookie (SameSite=Strict): the views and the download
    // links of products that needed a role are checked too, and links cannot carry headers.
    const syncTokenCookie = () => {
      const t = token();
      document.cookie = t
        ? '_token=' + encodeURIComponent(t) + '; path=/; SameSite=Strict'
        : '_token=; path=/; SameSite=Strict; max-age=0';
    };
    syncTokenCookie();
    $('token').addEventListener('input', () => {
      const t = token();
      if (t) sessionStorage.setItem(TOKEN_KEY, t);
      else sessionStorage.removeItem(TOKEN_KEY);
      syncTokenCookie();
    });
    if ($('token').value) $('auth').open = true;
    $('clear-catalog').addEventListener('click', clearCatalogInUse);
    $('drop-new').addEventListener('click', dropNew);
    $('add-source').addEventListener('click', () => {
      onAddSource().catch((e) => {
        $('catalog-message').textContent = `The source could not be added: ${e.message}`;
        $('catalog-message').classList.add('bad');
      });
    });
    for (const id of ['add-source-name', 'add-source-ra', 'add-source-dec']) {
      $(id).addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter') {
          ev.preventDefault();
          $('add-source').click();
        }
      });
    }
    $('use-catalog').addEventListener('click', useCatalog);
    for (const b of document.querySelectorAll('button.copy')) {
      b.addEventListener('click', () => {
        const target = $(b.dataset.copy);
        copyText(target.value !== undefined && target.tagName === 'INPUT' ? target.value : target.textContent, b);
      });
    }
    for (const tab of document.querySelectorAll('[data-code]')) {
      tab.addEventListener('click', () => {
        for (const t of document.querySelectorAll('[data-code]')) {
          const on = t === tab;
          t.classList.toggle('active', on);
          t.setAttribute('aria-selected', on ? 'true' : 'false');
        }
        for (const block of document.querySelectorAll('[data-code-block]')) {
          block.hidden = block.dataset.codeBlock !== tab.dataset.code;
        }
      });
    }
  }

  async function init() {
    wire();
    setStatus('idle', 'Fill in the request and submit.');
    updateVisibility();
    await loadInstruments();
    await loadParNames();
    const m = location.pathname.match(/^\/r\/([^/]+)\/?$/);
    if (m) {
      const jobId = decodeURIComponent(m[1]);
      setStatus('submitted', `Loading request ${jobId}…`);
      try {
        const r = await fetchJson('/api/request/' + encodeURIComponent(jobId));
        if (!r.ok || !r.json || !r.json.parameters) {
          showError(`Request ${jobId} could not be loaded (HTTP ${r.status})`, errorMessage(r));
          setStatus('failed', 'Failed: unknown request.');
          return;
        }
        fillForm(r.json.parameters);
      } catch (e) {
        showError('The site could not be reached', e.message);
        setStatus('failed', 'Failed: no answer from the site.');
        return;
      }
      startAnalysis();
      return;
    }
    const q = queryParams(location.search);
    if (q.instrument) {
      fillForm(q);
      startAnalysis();
    }
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
