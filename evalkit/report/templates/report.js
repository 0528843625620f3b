"use strict";
(function () {
  // Everything model-written is untrusted: it is only ever placed with textContent. The table
  // is built from the index alone (every case's verdict, ids, scores, latency); a case's text is
  // decoded when its row is opened, and a search reads the chunks one at a time.
  const D = EvalkitData;
  const { ix, names, tagSets, baselines } = D;
  const { el, marked } = EvalkitDom;
  const N = EvalkitNumbers;
  const PAGE = 200;
  const CODE = Object.fromEntries(D.VERDICTS.map((v, k) => [v, k]));  // also the rank: flips first
  const LABEL = { flip: "✗ pass → fail", error: "⚠ error", fail: "✗ fail", pass: "✓ pass", none: "– n/a" };
  let shown = PAGE;
  let sortKey = null;
  let sortDir = 1;

  const score = (name, v) => N.number(Number.isNaN(v) ? null : v, N.kindOf(name));
  const haystack = (c) => [c.id, c.o || "", c.e || ""].concat(c.m.map((m) => m[1] || "")).join("\n");

  const section = document.getElementById("cases");
  const count = document.getElementById("count");
  const fSuite = document.getElementById("f-suite");
  const fVariant = document.getElementById("f-variant");
  const fTag = document.getElementById("f-tag");
  const fVerdict = document.getElementById("f-verdict");
  const fText = document.getElementById("f-text");
  function fill(select, ids) {
    for (const v of [...new Set([...ids].map((k) => names[k]))].sort()) select.appendChild(el("option", v)).value = v;
  }

  let found = { q: null, hits: null };  // the last search's matches, over every case
  async function search(q) {
    if (found.q !== q) {
      const progress = (k, n) => { count.textContent = `searching: ${Math.floor((100 * k) / n)}% of the cases read`; };
      const hits = await D.scan(q, haystack, progress, () => fText.value.trim().toLowerCase() === q);
      if (hits === null) return null;
      found = { q, hits };
    }
    return found.hits;
  }

  function filtered(hits) {
    const want = (select) => (select.value ? D.nameId(select.value) : null);
    const suite = want(fSuite), variant = want(fVariant), tag = want(fTag);
    const verdict = fVerdict.value, code = CODE[verdict];
    const keep = (i) =>
      (suite === null || ix.s[i] === suite) &&
      (variant === null || ix.v[i] === variant) &&
      (tag === null || tagSets[ix.t[i]].includes(tag)) &&
      (!verdict || (verdict === "regressed" ? ix.rg[i] === 1 : ix.vd[i] === code)) &&
      (hits === null || hits[i] === 1);
    if (sortKey === null) {  // regressions first, then flips, errors, failures: by rank, in file order
      const buckets = [[], [], [], [], [], []];
      for (let i = 0; i < ix.n; i++) if (keep(i)) buckets[ix.rg[i] ? 0 : ix.vd[i] + 1].push(i);
      return buckets.flat();
    }
    const out = [];
    for (let i = 0; i < ix.n; i++) if (keep(i)) out.push(i);
    const text = { s: (i) => names[ix.s[i]], v: (i) => names[ix.v[i]], id: (i) => ix.id[i] }[sortKey];
    const num = sortKey === "vd" ? (i) => ix.vd[i] : (i) => (Number.isNaN(ix.lat[i]) ? Infinity : ix.lat[i]);
    return out.sort((a, b) => {
      const [ka, kb] = text ? [text(a), text(b)] : [num(a), num(b)];
      if (ka < kb) return -sortDir;
      if (ka > kb) return sortDir;
      return a - b;
    });
  }

  const tbody = document.querySelector("#case-table tbody");
  let generation = 0;
  async function render() {
    const mine = ++generation;
    section.setAttribute("aria-busy", "true");
    const q = fText.value.trim().toLowerCase();
    const hits = q ? await search(q) : null;
    if (mine !== generation || (q && hits === null)) return;  // a newer render took over
    const rows = filtered(hits);
    tbody.replaceChildren();
    for (const i of rows.slice(0, shown)) tbody.appendChild(row(i));
    count.textContent = `${N.number(Math.min(shown, rows.length), "count")} of ${N.number(rows.length, "count")} shown`;
    document.getElementById("more").hidden = rows.length <= shown;
    section.removeAttribute("aria-busy");
  }

  function row(i) {
    const vd = D.VERDICTS[ix.vd[i]];
    const tr = el("tr", null, "case");
    tr.dataset.idx = i;
    tr.tabIndex = 0;
    tr.appendChild(el("td", LABEL[vd] + (ix.rg[i] && vd !== "flip" ? " · regressed" : ""), "vd-" + vd));
    tr.appendChild(el("td", names[ix.s[i]]));
    tr.appendChild(el("td", names[ix.v[i]]));
    tr.appendChild(el("td", ix.id[i] + (ix.r[i] ? " #" + ix.r[i] : "")));
    tr.appendChild(el("td", tagSets[ix.t[i]].map((k) => names[k]).join(", ")));
    const scores = [];
    for (const [name, col] of ix.sc) if (col[i] !== -Infinity) scores.push(name + " " + score(name, col[i]));
    tr.appendChild(el("td", scores.join(" · ")));
    tr.appendChild(el("td", N.number(Number.isNaN(ix.lat[i]) ? null : ix.lat[i], "ms")));
    tr.addEventListener("click", () => toggle(tr, i));
    tr.addEventListener("keydown", (ev) => { if (ev.key === "Enter") toggle(tr, i); });
    return tr;
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
    pane("candidate · " + c.variant + " (this run)", "candidate", output === null ? c.e : output);
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
      const r = el("tr", null, "step step-" + type + (bad ? " step-failed" : "") + (err !== null ? " step-error" : ""));
      r.dataset.step = id;
      r.appendChild(el("td", (bad ? "✗ " : "") + id));
      r.appendChild(el("td", type));
      r.appendChild(el("td", name));
      for (const v of [input, output]) { const cell = el("td"); cell.appendChild(el("pre", v ?? "–", "text")); r.appendChild(cell); }
      r.appendChild(el("td", N.number(lat, "ms")));
      r.appendChild(el("td", err ?? ""));
      table.appendChild(r);
    }
    wrap.appendChild(table);
    return wrap;
  }

  let opening = 0;
  async function toggle(tr, i) {
    const next = tr.nextElementSibling;
    if (next && next.classList.contains("detail")) { next.remove(); return; }
    const mine = ++opening;
    const same = [];  // the other variants on this case: found in the index, decoded with it
    for (let j = 0; j < ix.n; j++) if (j !== i && ix.id[j] === ix.id[i] && ix.s[j] === ix.s[i] && ix.r[j] === ix.r[i]) same.push(j);
    const got = await D.cases([i, ...same]);
    if (mine !== opening || !tr.isConnected) return;
    tr.after(detail(got.get(i), same.map((j) => got.get(j))));
  }

  function detail(c, others) {
    const row = el("tr", null, "detail");
    const td = el("td");
    td.colSpan = 7;
    td.appendChild(block("prompt", c.m.map((m) => m[0] + ": " + m[1]).join("\n\n")));
    if (c.rt) {
      td.appendChild(el("h4", "retrieved for “" + (c.rq || "") + "”" + (c.rt.length ? "" : " — nothing (retrieval failure)")));
      const list = el("ol", null, "retrieved");
      for (const [id, doc, score, text] of c.rt) {
        const li = el("li");
        li.appendChild(el("code", id));
        li.appendChild(document.createTextNode(" · " + doc + " · score " + N.number(score)));
        li.appendChild(el("pre", text, "text"));
        list.appendChild(li);
      }
      td.appendChild(list);
    }
    if (c.ref.length) td.appendChild(block("reference" + (c.ref.length > 1 ? "s" : ""), c.ref.join("\n— or —\n")));
    const output = c.o, base = c.b;
    if (c.e !== null) td.appendChild(block("error", c.e));
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
      r.appendChild(el("td", s[2] || ""));
      table.appendChild(r);
    }
    td.appendChild(table);
    td.appendChild(el("p", `latency ${N.number(c.lat, "ms")} ms · tokens ${N.number(c.tok[0], "count")} in / ${N.number(c.tok[1], "count")} out · cost ${N.number(c.cost, "cost")}` +
      (c.c ? " · from cache" : "") + (c.fb ? " · fallback from " + c.fb : "")));
    if (others.length) {
      td.appendChild(el("h4", "other variants on this case"));
      const grid = el("div", null, "side");
      for (const o of others) {
        const box = el("div");
        box.appendChild(el("strong", o.variant + " — " + LABEL[o.vd]));
        box.appendChild(el("pre", o.o ?? o.e ?? "–", "text"));
        grid.appendChild(box);
      }
      td.appendChild(grid);
    }
    row.appendChild(td);
    return row;
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
  section.setAttribute("aria-busy", "true");
  D.onProgress((k, n) => { count.textContent = `reading the index: ${Math.floor((100 * k) / n)}%`; });
  D.ready.then(async () => {
    const seen = (col) => new Set(col);
    fill(fSuite, seen(ix.s));
    fill(fVariant, seen(ix.v));
    fill(fTag, new Set(tagSets.flat()));
    await render();
    document.body.dataset.ready = "1";
  });
})();
