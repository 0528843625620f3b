"use strict";
// The output matrix: a row per case (and repeat), a column per variant, each cell the output
// with its verdict and scores. Untrusted text is only ever placed with textContent.
(function () {
  const { str, cases, order } = EvalkitData;
  const { el, marked } = EvalkitDom;
  const N = EvalkitNumbers;
  const PAGE = 25;
  const LABEL = { flip: "✗ pass → fail", error: "⚠ error", fail: "✗ fail", pass: "✓ pass", none: "– n/a" };
  const OUTCOME = { flip: "fail", fail: "fail", pass: "pass", error: "error", none: "none" };
  let shown = PAGE;

  const section = document.getElementById("matrix");
  const fSuite = document.getElementById("m-suite");
  const fFilter = document.getElementById("m-filter");
  const fSort = document.getElementById("m-sort");
  const fText = document.getElementById("m-text");
  const head = document.querySelector("#matrix-table thead tr");
  const body = document.querySelector("#matrix-table tbody");

  const suites = [...order.keys()].filter((s) => cases.some((c) => c.suite === s));
  if (!suites.length) { section.hidden = true; return; }
  for (const s of suites) fSuite.appendChild(el("option", s)).value = s;

  const BASE = " · baseline";
  const fBase = document.getElementById("m-baseline");
  // the baseline's side of a case, as a cell of its own (its outputs and scores, copied in at gate time)
  const baselineOf = (c) => ({
    idx: c.idx, e: null, o: c.b, vd: c.bp === true ? "pass" : c.bp === false ? "fail" : "none",
    sc: Object.fromEntries(Object.entries(c.bs || {}).map(([n, v]) => [n, [v, null, null]])),
  });

  function rowsOf(suite, withBaseline) {
    const variants = withBaseline ? order.get(suite).flatMap((v) => [v + BASE, v]) : order.get(suite);
    const rows = new Map();
    for (const c of cases) {
      if (c.suite !== suite) continue;
      const key = c.id + "\u0000" + c.r;
      if (!rows.has(key)) rows.set(key, { id: c.id, r: c.r, idx: c.idx, vars: str(c.vr), ref: (c.ref || []).map(str), cells: new Map() });
      rows.get(key).cells.set(c.variant, c);
      if (withBaseline && c.b !== null) rows.get(key).cells.set(c.variant + BASE, baselineOf(c));
    }
    const metrics = [];
    for (const row of rows.values()) {
      const present = variants.map((v) => row.cells.get(v)).filter(Boolean);
      row.disagree = new Set(present.map((c) => OUTCOME[c.vd]).filter((o) => o !== "none")).size > 1;
      const outputs = present.map((c) => (c.e !== null ? "\u0000error" : str(c.o)));
      row.differ = new Set(outputs).size > 1;
      row.text = undefined;
      for (const c of present) for (const name of Object.keys(c.sc)) if (!metrics.includes(name)) metrics.push(name);
    }
    return { variants, rows: [...rows.values()], metrics };
  }

  function valueOf(row, variant, metric) {
    const c = row.cells.get(variant);
    return c && c.sc[metric] ? c.sc[metric][0] : null;
  }

  // "spread:m" largest max − min first; "delta:m" last column − first, most negative first
  function sortKey(row, variants, spec) {
    const [how, metric] = [spec.slice(0, spec.indexOf(":")), spec.slice(spec.indexOf(":") + 1)];
    if (how === "delta") {
      const a = valueOf(row, variants[0], metric), b = valueOf(row, variants[variants.length - 1], metric);
      return a === null || b === null ? null : b - a;
    }
    const vals = variants.map((v) => valueOf(row, v, metric)).filter((v) => v !== null);
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
    document.getElementById("matrix-table").style.setProperty("--cols", String(model.variants.length));
    head.replaceChildren(el("th", "case"));
    head.firstChild.scope = "col";
    const tally = new Map(model.variants.map((v) => [v, [0, 0]]));
    for (const row of model.rows) {
      for (const [v, c] of row.cells) { tally.get(v)[1]++; if (c.vd === "pass") tally.get(v)[0]++; }
    }
    for (const v of model.variants) {
      const [passed, total] = tally.get(v);
      const th = el("th", v);
      th.scope = "col";
      th.appendChild(el("small", ` ${passed} of ${total} pass`));
      head.appendChild(th);
    }
  }

  const haystack = (row) => {
    if (row.text === undefined) {
      row.text = (row.id + "\n" + (row.vars || "") + "\n" + row.ref.join("\n") + "\n" + [...row.cells.values()].map((c) => str(c.o) || "").join("\n")).toLowerCase();
    }
    return row.text;
  };

  function filtered() {
    const q = fText.value.trim().toLowerCase();
    const out = model.rows.filter((row) =>
      (!fFilter.value || (fFilter.value === "disagree" ? row.disagree : row.differ)) && (!q || haystack(row).includes(q)));
    const spec = fSort.value;
    if (!spec) return out.sort((a, b) => a.idx - b.idx);
    for (const row of out) row.key = sortKey(row, model.variants, spec);
    return out.sort((a, b) => {
      if (a.key === null || b.key === null) return (a.key === null) - (b.key === null) || a.idx - b.idx;
      return a.key - b.key || a.idx - b.idx;
    });
  }

  function cell(c, variant, reference) {
    const td = el("td", null, "cell");
    td.dataset.variant = variant;  // shown above the cell where narrow screens stack the columns
    if (!c) { td.appendChild(el("span", "not run", "muted")); return td; }
    const out = c.e !== null ? null : str(c.o);
    const differs = reference !== undefined && out !== reference;
    td.classList.add("vd-cell-" + OUTCOME[c.vd]);
    if (differs) td.classList.add("differs");
    const top = el("div", null, "cell-head");
    top.appendChild(el("span", LABEL[c.vd], "badge vd-" + c.vd));
    if (differs) top.appendChild(el("span", "≠", "ne")).title = "output differs from the first column";
    td.appendChild(top);
    const scores = Object.entries(c.sc).map(([n, s]) => `${N.label(n)} ${N.number(s[0], N.kindOf(n))}`).join(" · ");
    if (scores) td.appendChild(el("div", scores, "scores"));
    const pre = el("pre", null, "text");
    if (out === null) pre.textContent = str(c.e) || "–";
    else if (differs && reference) pre.appendChild(marked(reference, out, false));
    else pre.textContent = out;
    td.appendChild(pre);
    return td;
  }

  function render() {
    const rows = filtered();
    body.replaceChildren();
    const spec = fSort.value;
    for (const row of rows.slice(0, shown)) {
      const tr = el("tr", null, row.disagree ? "disagree" : "");
      const th = el("th", row.id + (row.r ? " #" + row.r : ""));
      th.scope = "row";
      if (row.vars && row.vars !== "{}") th.appendChild(el("div", row.vars, "case-vars"));
      if (row.ref.length) th.appendChild(el("div", "reference: " + row.ref.join(" | "), "case-ref"));
      if (row.disagree) th.appendChild(el("div", "variants disagree", "flag"));
      if (spec && row.key !== null && row.key !== undefined) {
        const metric = spec.slice(spec.indexOf(":") + 1);
        const kind = N.kindOf(metric);
        const text = spec.startsWith("spread") ? `spread ${N.number(-row.key, kind)}` : N.signed(row.key, kind);
        th.appendChild(el("div", `Δ ${N.label(metric)} ${text}`, "muted"));
      }
      tr.appendChild(th);
      const first = row.cells.get(model.variants[0]);
      const reference = first ? (first.e !== null ? null : str(first.o)) : null;
      model.variants.forEach((v, k) => tr.appendChild(cell(row.cells.get(v), v, k === 0 ? undefined : reference)));
      body.appendChild(tr);
    }
    document.getElementById("m-count").textContent = `${Math.min(shown, rows.length)} of ${rows.length} cases shown`;
    document.getElementById("m-more").hidden = rows.length <= shown;
  }

  fSuite.addEventListener("change", () => { shown = PAGE; setSuite(); render(); });
  fBase.addEventListener("change", () => { shown = PAGE; setSuite(); render(); });
  document.getElementById("m-baseline-wrap").hidden = !cases.some((c) => c.b !== null);
  for (const control of [fFilter, fSort]) control.addEventListener("change", () => { shown = PAGE; render(); });
  fText.addEventListener("input", () => { shown = PAGE; render(); });
  document.getElementById("m-more").addEventListener("click", () => { shown += PAGE; render(); });
  setSuite();
  render();
})();
