"use strict";
// The output matrix: a row per case (and repeat), a column per variant, each cell the output
// with its verdict and scores. Untrusted text is only ever placed with textContent. Rows,
// filters and sorts come from the index (verdicts, scores, output hashes); the cells of the
// page shown are decoded from their chunks, and a search reads the chunks one at a time.
(function () {
  const D = EvalkitData;
  const { ix, names, order } = D;
  const { el, marked } = EvalkitDom;
  const N = EvalkitNumbers;
  const PAGE = 25;
  const LABEL = { flip: "✗ pass → fail", error: "⚠ error", fail: "✗ fail", pass: "✓ pass", none: "– n/a" };
  const OUTCOME = { flip: "fail", fail: "fail", pass: "pass", error: "error", none: "none" };
  const BASE = " · baseline";
  let shown = PAGE;

  const section = document.getElementById("matrix");
  const count = document.getElementById("m-count");
  const fSuite = document.getElementById("m-suite");
  const fFilter = document.getElementById("m-filter");
  const fSort = document.getElementById("m-sort");
  const fText = document.getElementById("m-text");
  const fBase = document.getElementById("m-baseline");
  const head = document.querySelector("#matrix-table thead tr");
  const body = document.querySelector("#matrix-table tbody");

  // a column: a variant, or the baseline's side of a variant (its outputs and scores, copied in at gate time)
  const verdictOf = (i, base) => (base ? (ix.bp[i] === 1 ? "pass" : ix.bp[i] === 0 ? "fail" : "none") : D.VERDICTS[ix.vd[i]]);
  const hashOf = (i, base) => (base ? ix.bh[i] : ix.oh[i]);
  const valueOf = (i, base, metric) => {
    const col = (base ? ix.bs : ix.sc).get(metric);
    const v = col ? col[i] : -Infinity;
    return v === -Infinity || Number.isNaN(v) ? null : v;
  };

  // the suite's rows: cells[row * columns + k] is the case shown in column k (-1: not run)
  function rowsOf(suite, withBaseline) {
    const variants = withBaseline ? order.get(suite).flatMap((v) => [v + BASE, v]) : order.get(suite);
    const columns = variants.map((v) => ({ name: v, variant: D.nameId(v.endsWith(BASE) ? v.slice(0, -BASE.length) : v), base: v.endsWith(BASE) }));
    const sid = D.nameId(suite), keys = new Map(), first = [];
    const rowOf = new Int32Array(ix.n).fill(-1);
    for (let i = 0; i < ix.n; i++) {
      if (ix.s[i] !== sid) continue;
      const key = ix.id[i] + "\u0000" + ix.r[i];
      if (!keys.has(key)) { keys.set(key, first.length); first.push(i); }
      rowOf[i] = keys.get(key);
    }
    const width = columns.length, cells = new Int32Array(first.length * width).fill(-1);
    const at = new Map(columns.map((c, k) => [c.variant + (c.base ? "b" : ""), k]));
    for (let i = 0; i < ix.n; i++) {
      if (rowOf[i] < 0) continue;
      const k = at.get(ix.v[i] + "");
      if (k !== undefined) cells[rowOf[i] * width + k] = i;
      const kb = at.get(ix.v[i] + "b");
      if (kb !== undefined && !Number.isNaN(ix.bh[i])) cells[rowOf[i] * width + kb] = i;
    }
    const disagree = new Uint8Array(first.length), differ = new Uint8Array(first.length);
    const metrics = [];
    for (const [name, col] of ix.sc) if (first.some((i, r) => columns.some((c, k) => cells[r * width + k] >= 0 && col[cells[r * width + k]] !== -Infinity))) metrics.push(name);
    for (let r = 0; r < first.length; r++) {
      const outcomes = new Set(), hashes = new Set();
      for (let k = 0; k < width; k++) {
        const i = cells[r * width + k];
        if (i < 0) continue;
        const o = OUTCOME[verdictOf(i, columns[k].base)];
        if (o !== "none") outcomes.add(o);
        hashes.add(hashOf(i, columns[k].base));
      }
      disagree[r] = outcomes.size > 1 ? 1 : 0;
      differ[r] = hashes.size > 1 ? 1 : 0;
    }
    return { suite, variants, columns, width, first, rowOf, cells, disagree, differ, metrics };
  }

  // "spread:m" largest max − min first; "delta:m" last column − first, most negative first
  function sortKey(r, spec) {
    const metric = spec.slice(spec.indexOf(":") + 1);
    const value = (k) => { const i = model.cells[r * model.width + k]; return i < 0 ? null : valueOf(i, model.columns[k].base, metric); };
    if (spec.startsWith("delta")) {
      const a = value(0), b = value(model.width - 1);
      return a === null || b === null ? null : b - a;
    }
    const vals = model.columns.map((_, k) => value(k)).filter((v) => v !== null);
    return vals.length < 2 ? null : -(Math.max(...vals) - Math.min(...vals));
  }

  let model = null;
  function setSuite() {
    model = rowsOf(fSuite.value, fBase.checked);
    fSort.replaceChildren(el("option", "case id"));
    fSort.firstChild.value = "";
    const [first, last] = [model.variants[0], model.variants[model.variants.length - 1]];
    for (const m of model.metrics) {
      fSort.appendChild(el("option", `Δ ${N.label(m)}: largest spread first`)).value = "spread:" + m;
      if (model.variants.length > 1) {
        fSort.appendChild(el("option", `Δ ${N.label(m)}: ${last} − ${first}, most negative first`)).value = "delta:" + m;
      }
    }
    document.getElementById("matrix-table").style.setProperty("--cols", String(model.width));
    head.replaceChildren(el("th", "case"));
    head.firstChild.scope = "col";
    model.columns.forEach((c, k) => {
      let passed = 0, total = 0;
      for (let r = 0; r < model.first.length; r++) {
        const i = model.cells[r * model.width + k];
        if (i >= 0) { total++; if (verdictOf(i, c.base) === "pass") passed++; }
      }
      const th = el("th", c.name);
      th.scope = "col";
      th.appendChild(el("small", ` ${passed} of ${total} pass`));
      head.appendChild(th);
    });
  }

  // what a search looks through: the case's id, vars, references and output (and the baseline's
  // output where its column is shown)
  const haystack = (c) => [c.id, c.vr || "", c.ref.join("\n"), c.o || "", fBase.checked ? c.b || "" : ""].join("\n");
  let found = { q: null, base: null, hits: null };
  async function search(q) {
    if (found.q !== q || found.base !== fBase.checked) {
      const progress = (k, n) => { count.textContent = `searching: ${Math.floor((100 * k) / n)}% of the cases read`; };
      const base = fBase.checked;
      const hits = await D.scan(q, haystack, progress, () => fText.value.trim().toLowerCase() === q && fBase.checked === base);
      if (hits === null) return null;
      found = { q, base, hits };
    }
    return found.hits;
  }

  function filtered(hits) {
    const keep = new Uint8Array(model.first.length);
    if (hits) { for (let i = 0; i < ix.n; i++) if (hits[i] && model.rowOf[i] >= 0) keep[model.rowOf[i]] = 1; } else keep.fill(1);
    const out = [];
    for (let r = 0; r < model.first.length; r++) {
      if (keep[r] && (!fFilter.value || (fFilter.value === "disagree" ? model.disagree[r] : model.differ[r]))) out.push(r);
    }
    const spec = fSort.value;
    if (!spec) return { rows: out, keys: null };
    const keys = new Map(out.map((r) => [r, sortKey(r, spec)]));
    out.sort((a, b) => {
      const ka = keys.get(a), kb = keys.get(b);
      if (ka === null || kb === null) return (ka === null) - (kb === null) || a - b;
      return ka - kb || a - b;
    });
    return { rows: out, keys };
  }

  function cell(c, column, reference) {
    const td = el("td", null, "cell");
    td.dataset.variant = column.name;  // shown above the cell where narrow screens stack the columns
    if (!c) { td.appendChild(el("span", "not run", "muted")); return td; }
    const vd = verdictOf(c.idx, column.base);
    const out = column.base ? c.b : c.e !== null ? null : c.o;
    const differs = reference !== undefined && out !== reference;
    td.classList.add("vd-cell-" + OUTCOME[vd]);
    if (differs) td.classList.add("differs");
    const top = el("div", null, "cell-head");
    top.appendChild(el("span", LABEL[vd], "badge vd-" + vd));
    if (differs) top.appendChild(el("span", "≠", "ne")).title = "output differs from the first column";
    td.appendChild(top);
    const entries = column.base ? Object.entries(c.bs || {}).map(([n, v]) => [n, v]) : Object.entries(c.sc).map(([n, s]) => [n, s[0]]);
    const scores = entries.map(([n, v]) => `${N.label(n)} ${N.number(v, N.kindOf(n))}`).join(" · ");
    if (scores) td.appendChild(el("div", scores, "scores"));
    const pre = el("pre", null, "text");
    if (out === null) pre.textContent = (column.base ? null : c.e) || "–";
    else if (differs && reference) pre.appendChild(marked(reference, out, false));
    else pre.textContent = out;
    td.appendChild(pre);
    return td;
  }

  let generation = 0;
  async function render() {
    const mine = ++generation;
    section.setAttribute("aria-busy", "true");
    const q = fText.value.trim().toLowerCase();
    const hits = q ? await search(q) : null;
    if (mine !== generation || (q && hits === null)) return;
    const { rows, keys } = filtered(hits);
    const page = rows.slice(0, shown);
    const wanted = page.flatMap((r) => [...model.cells.subarray(r * model.width, (r + 1) * model.width)].filter((i) => i >= 0));
    const got = await D.cases(wanted);
    if (mine !== generation) return;
    body.replaceChildren();
    const spec = fSort.value;
    for (const r of page) {
      const at = (k) => { const i = model.cells[r * model.width + k]; return i < 0 ? null : got.get(i); };
      const lead = got.get(model.first[r]);
      const tr = el("tr", null, model.disagree[r] ? "disagree" : "");
      const th = el("th", lead.id + (lead.r ? " #" + lead.r : ""));
      th.scope = "row";
      if (lead.vr && lead.vr !== "{}") th.appendChild(el("div", lead.vr, "case-vars"));
      if (lead.ref.length) th.appendChild(el("div", "reference: " + lead.ref.join(" | "), "case-ref"));
      if (model.disagree[r]) th.appendChild(el("div", "variants disagree", "flag"));
      const key = keys ? keys.get(r) : null;
      if (spec && key !== null && key !== undefined) {
        const metric = spec.slice(spec.indexOf(":") + 1);
        const kind = N.kindOf(metric);
        const text = spec.startsWith("spread") ? `spread ${N.number(-key, kind)}` : N.signed(key, kind);
        th.appendChild(el("div", `Δ ${N.label(metric)} ${text}`, "muted"));
      }
      tr.appendChild(th);
      const first = at(0);
      const reference = first ? (model.columns[0].base ? first.b : first.e !== null ? null : first.o) : null;
      model.columns.forEach((column, k) => tr.appendChild(cell(at(k), column, k === 0 ? undefined : reference)));
      body.appendChild(tr);
    }
    count.textContent = `${N.number(Math.min(shown, rows.length), "count")} of ${N.number(rows.length, "count")} cases shown`;
    document.getElementById("m-more").hidden = rows.length <= shown;
    section.removeAttribute("aria-busy");
  }

  section.setAttribute("aria-busy", "true");
  D.ready.then(() => {
    const present = new Set(ix.s);
    const suites = [...order.keys()].filter((s) => present.has(D.nameId(s)));
    if (!suites.length) { section.hidden = true; section.removeAttribute("aria-busy"); return; }
    for (const s of suites) fSuite.appendChild(el("option", s)).value = s;
    let withBase = false;
    for (let i = 0; i < ix.n && !withBase; i++) withBase = !Number.isNaN(ix.bh[i]);
    document.getElementById("m-baseline-wrap").hidden = !withBase;
    fSuite.addEventListener("change", () => { shown = PAGE; setSuite(); render(); });
    fBase.addEventListener("change", () => { shown = PAGE; setSuite(); render(); });
    for (const control of [fFilter, fSort]) control.addEventListener("change", () => { shown = PAGE; render(); });
    fText.addEventListener("input", () => { shown = PAGE; render(); });
    document.getElementById("m-more").addEventListener("click", () => { shown += PAGE; render(); });
    setSuite();
    render();
  });
})();
