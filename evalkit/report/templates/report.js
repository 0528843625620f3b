"use strict";
(function () {
  // Everything model-written is untrusted: it is only ever placed with textContent.
  const { str, cases, baselines } = EvalkitData;
  const { el, marked } = EvalkitDom;
  const N = EvalkitNumbers;
  const PAGE = 200;
  const RANK = { flip: 0, error: 1, fail: 2, none: 3, pass: 4 };
  const LABEL = { flip: "✗ pass → fail", error: "⚠ error", fail: "✗ fail", pass: "✓ pass", none: "– n/a" };
  let shown = PAGE;
  let sortKey = null;
  let sortDir = 1;

  const score = (name, v) => N.number(v, N.kindOf(name));
  const byCase = new Map();
  for (const c of cases) {
    const key = c.suite + "\u0000" + c.id + "\u0000" + c.r;
    if (!byCase.has(key)) byCase.set(key, []);
    byCase.get(key).push(c);
  }
  const haystack = (c) => {
    if (c._text === undefined) {
      c._text = [c.id, str(c.o) || "", str(c.e) || ""].concat(c.m.map((m) => str(m[1]))).join("\n").toLowerCase();
    }
    return c._text;
  };

  function fill(select, values) {
    for (const v of [...new Set(values)].sort()) select.appendChild(el("option", v)).value = v;
  }
  const fSuite = document.getElementById("f-suite");
  const fVariant = document.getElementById("f-variant");
  const fTag = document.getElementById("f-tag");
  const fVerdict = document.getElementById("f-verdict");
  const fText = document.getElementById("f-text");
  fill(fSuite, cases.map((c) => c.suite));
  fill(fVariant, cases.map((c) => c.variant));
  fill(fTag, cases.flatMap((c) => c.tags));

  function filtered() {
    const q = fText.value.trim().toLowerCase();
    const out = cases.filter((c) =>
      (!fSuite.value || c.suite === fSuite.value) &&
      (!fVariant.value || c.variant === fVariant.value) &&
      (!fTag.value || c.tags.includes(fTag.value)) &&
      (!fVerdict.value || (fVerdict.value === "regressed" ? c.rg : c.vd === fVerdict.value)) &&
      (!q || haystack(c).includes(q)));
    const key = (c) => {
      if (sortKey === null) return [c.rg ? -1 : RANK[c.vd], c.suite, c.id];  // regressions and flips first
      if (sortKey === "vd") return [RANK[c.vd]];
      if (sortKey === "lat") return [c.lat === null ? Infinity : c.lat];
      return [String(c[sortKey === "s" ? "suite" : sortKey === "v" ? "variant" : "id"])];
    };
    return out.sort((a, b) => {
      const ka = key(a), kb = key(b);
      for (let i = 0; i < ka.length; i++) {
        if (ka[i] < kb[i]) return -sortDir;
        if (ka[i] > kb[i]) return sortDir;
      }
      return a.idx - b.idx;
    });
  }

  const tbody = document.querySelector("#case-table tbody");
  function render() {
    const rows = filtered();
    tbody.replaceChildren();
    for (const c of rows.slice(0, shown)) {
      const tr = el("tr", null, "case");
      tr.dataset.idx = c.idx;
      tr.tabIndex = 0;
      tr.appendChild(el("td", LABEL[c.vd] + (c.rg && c.vd !== "flip" ? " · regressed" : ""), "vd-" + c.vd));
      tr.appendChild(el("td", c.suite));
      tr.appendChild(el("td", c.variant));
      tr.appendChild(el("td", c.id + (c.r ? " #" + c.r : "")));
      tr.appendChild(el("td", c.tags.join(", ")));
      tr.appendChild(el("td", Object.entries(c.sc).map(([n, s]) => n + " " + score(n, s[0])).join(" · ")));
      tr.appendChild(el("td", N.number(c.lat, "ms")));
      tr.addEventListener("click", () => toggle(tr, c));
      tr.addEventListener("keydown", (ev) => { if (ev.key === "Enter") toggle(tr, c); });
      tbody.appendChild(tr);
    }
    document.getElementById("count").textContent = `${Math.min(shown, rows.length)} of ${rows.length} shown`;
    document.getElementById("more").hidden = rows.length <= shown;
  }

  function block(title, text) {
    const wrap = document.createDocumentFragment();
    wrap.appendChild(el("h4", title));
    wrap.appendChild(el("pre", text === null ? "–" : text, "text"));
    return wrap;
  }

  // the baseline's output and this run's, each labelled, and the word diff between them
  function versus(c, base, output) {
    const b = baselines.get(c.suite + "\u0000" + c.variant) || {};
    const wrap = el("div", null, "versus");
    const pane = (title, cls, content) => {
      const box = el("div", null, "pane " + cls);
      box.appendChild(el("h4", title));
      const pre = el("pre", null, "text");
      if (typeof content === "string" || content === null) pre.textContent = content === null ? "–" : content;
      else pre.appendChild(content);
      box.appendChild(pre);
      wrap.appendChild(box);
    };
    const baseName = "baseline" + (b.variant ? " · " + b.variant : "") + (b.run ? " (run " + b.run + ")" : "");
    pane(baseName, "baseline", base);
    pane("candidate · " + c.variant + " (this run)", "candidate", output === null ? str(c.e) : output);
    pane("word diff (green added, red removed)", "wdiff", marked(base, output || "", true));
    return wrap;
  }

  function traceTable(rows) {
    // the trace as a timeline: one row per step; steps a failing scorer names are highlighted
    const wrap = document.createDocumentFragment();
    const failing = rows.filter((r) => r[7]).length;
    wrap.appendChild(el("h4", "trace — " + rows.length + " step" + (rows.length === 1 ? "" : "s") + (failing ? " · " + failing + " flagged by a scorer" : "")));
    const table = el("table", null, "trace");
    const head = el("tr");
    for (const h of ["step", "type", "name", "input / arguments", "output / result", "ms", "error"]) head.appendChild(el("th", h));
    table.appendChild(head);
    for (const [id, type, name, input, output, lat, err, bad] of rows) {
      const r = el("tr", null, "step step-" + str(type) + (bad ? " step-failed" : "") + (err !== null ? " step-error" : ""));
      r.dataset.step = str(id);
      r.appendChild(el("td", (bad ? "✗ " : "") + str(id)));
      r.appendChild(el("td", str(type)));
      r.appendChild(el("td", str(name)));
      for (const v of [input, output]) { const cell = el("td"); cell.appendChild(el("pre", str(v) ?? "–", "text")); r.appendChild(cell); }
      r.appendChild(el("td", N.number(lat, "ms")));
      r.appendChild(el("td", str(err) ?? ""));
      table.appendChild(r);
    }
    wrap.appendChild(table);
    return wrap;
  }

  function toggle(tr, c) {
    const next = tr.nextElementSibling;
    if (next && next.classList.contains("detail")) { next.remove(); return; }
    const row = el("tr", null, "detail");
    const td = el("td");
    td.colSpan = 7;
    td.appendChild(block("prompt", c.m.map((m) => m[0] + ": " + str(m[1])).join("\n\n")));
    if (c.rt) {
      td.appendChild(el("h4", "retrieved for “" + (str(c.rq) || "") + "”" + (c.rt.length ? "" : " — nothing (retrieval failure)")));
      const list = el("ol", null, "retrieved");
      for (const [id, doc, score, text] of c.rt) {
        const li = el("li");
        li.appendChild(el("code", str(id)));
        li.appendChild(document.createTextNode(" · " + str(doc) + " · score " + N.number(score)));
        li.appendChild(el("pre", str(text), "text"));
        list.appendChild(li);
      }
      td.appendChild(list);
    }
    if (c.ref.length) td.appendChild(block("reference" + (c.ref.length > 1 ? "s" : ""), c.ref.map(str).join("\n— or —\n")));
    const output = str(c.o), base = str(c.b);
    if (c.e !== null) td.appendChild(block("error", str(c.e)));
    if (base === null) {
      td.appendChild(block("output", output));
    } else {
      td.appendChild(versus(c, base, output));
    }
    if (c.tr) td.appendChild(traceTable(c.tr));
    td.appendChild(el("h4", "scores"));
    const table = el("table");
    const head = el("tr");
    for (const h of ["scorer", "value", "passed", "baseline", "reason"]) head.appendChild(el("th", h));
    table.appendChild(head);
    for (const [name, s] of Object.entries(c.sc)) {
      const r = el("tr");
      r.appendChild(el("td", name));
      r.appendChild(el("td", score(name, s[0])));
      r.appendChild(el("td", s[1] === null ? "–" : s[1] ? "✓ yes" : "✗ no"));
      r.appendChild(el("td", c.bs && name in c.bs ? score(name, c.bs[name]) : "–"));
      r.appendChild(el("td", str(s[2]) || ""));
      table.appendChild(r);
    }
    td.appendChild(table);
    td.appendChild(el("p", `latency ${N.number(c.lat, "ms")} ms · tokens ${N.number(c.tok[0], "count")} in / ${N.number(c.tok[1], "count")} out · cost ${N.number(c.cost, "cost")}` +
      (c.c ? " · from cache" : "") + (c.fb ? " · fallback from " + c.fb : "")));
    const others = (byCase.get(c.suite + "\u0000" + c.id + "\u0000" + c.r) || []).filter((o) => o !== c);
    if (others.length) {
      td.appendChild(el("h4", "other variants on this case"));
      const grid = el("div", null, "side");
      for (const o of others) {
        const box = el("div");
        box.appendChild(el("strong", o.variant + " — " + LABEL[o.vd]));
        box.appendChild(el("pre", str(o.o) ?? str(o.e) ?? "–", "text"));
        grid.appendChild(box);
      }
      td.appendChild(grid);
    }
    row.appendChild(td);
    tr.after(row);
  }

  for (const control of [fSuite, fVariant, fTag, fVerdict]) control.addEventListener("change", () => { shown = PAGE; render(); });
  fText.addEventListener("input", () => { shown = PAGE; render(); });
  document.getElementById("more").addEventListener("click", () => { shown += PAGE; render(); });
  for (const th of document.querySelectorAll("th[data-sort]")) {
    th.addEventListener("click", () => {
      sortDir = sortKey === th.dataset.sort ? -sortDir : 1;
      sortKey = th.dataset.sort;
      render();
    });
  }
  render();
  document.body.dataset.ready = "1";
})();
