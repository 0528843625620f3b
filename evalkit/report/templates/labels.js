"use strict";
(function () {
  // Labelling without a server. Model-written text is only ever placed with textContent. The
  // list comes from the index; the outputs of the page shown are decoded from their chunks.
  const D = EvalkitData;
  const { ix, names } = D;
  const data = D.data;  // parsed once, by common.js
  const run = (data.run && data.run.run_id) || "";
  const STORE = "evalkit-labels:" + run;
  const PAGE = 50;
  let shown = PAGE;
  const $ = (id) => document.getElementById(id);
  const el = (tag, text, cls) => {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  };
  const warn = (text) => { $("lb-warning").textContent = text; $("lb-warning").hidden = false; };

  let storage = null;
  try { storage = window.localStorage; storage.getItem(STORE); } catch (e) {
    storage = null;
    warn("This browser keeps no local storage for this page: labels last until it is closed. Export them before.");
  }
  let labels = {};
  try { labels = JSON.parse((storage && storage.getItem(STORE)) || "{}") || {}; } catch (e) { labels = {}; }
  const save = () => { if (storage) storage.setItem(STORE, JSON.stringify(labels)); };

  const labeller = $("lb-labeller");
  labeller.value = (storage && storage.getItem("evalkit-labeller")) || "";
  labeller.addEventListener("change", () => { if (storage) storage.setItem("evalkit-labeller", labeller.value.trim()); });
  // blind by default: the automatic verdicts stay hidden until the labeller asks to see them
  const showAuto = document.getElementById("lb-show-auto");
  showAuto.addEventListener("change", () => document.getElementById("lb-table").classList.toggle("blind", !showAuto.checked));

  // a case as this list needs it: from the index, its output and scores from its chunk (`c`)
  const entry = (i, c) => ({ suite: names[ix.s[i]], variant: names[ix.v[i]], id: ix.id[i], r: ix.r[i], out: c ? c.o : null, err: c ? c.e : null, sc: c ? c.sc : {} });
  const keyAt = (i) => JSON.stringify([names[ix.s[i]], ix.id[i], names[ix.v[i]], ix.r[i]]);
  const keyOf = (c) => JSON.stringify([c.suite, c.id, c.variant, c.r]);
  const automatic = (c) => Object.entries(c.sc)
    .filter(([n]) => n !== "human" && !n.endsWith("_human_agreement"))
    .map(([n, s]) => n + " " + (s[1] === null ? (s[0] === null ? "–" : EvalkitNumbers.number(s[0], EvalkitNumbers.kindOf(n))) : s[1] ? "✓" : "✗"))
    .join(" · ");

  function update(c, field, value) {
    const k = keyOf(c);
    const label = Object.assign({ verdict: null, rating: null, note: "" }, labels[k] || {});
    label[field] = value;
    if (!label.verdict && !label.rating && !label.note) {
      delete labels[k];
    } else {  // a note alone is kept, but is not a label until a verdict or rating comes
      labels[k] = Object.assign(label, {
        suite: c.suite, case: c.id, variant: c.variant, repeat: c.r,
        labeller: labeller.value.trim() || "anonymous", time: new Date().toISOString(),
      });
    }
    save();
    refresh();
  }

  function select(options, current, onChange) {
    const node = el("select");
    for (const [value, text] of options) {
      const o = node.appendChild(el("option", text));
      o.value = value;
    }
    node.value = current === null || current === undefined ? "" : String(current);
    node.addEventListener("change", () => onChange(node.value));
    return node;
  }

  function row(c) {
    const label = labels[keyOf(c)] || {};
    const tr = el("tr", null, label.verdict || label.rating ? "labelled" : "");
    tr.dataset.case = c.id;
    tr.appendChild(el("td", c.suite + " · " + c.id + " · " + c.variant + (c.r ? " #" + c.r : "")));
    const td = el("td");
    const text = c.out === null ? "⚠ " + (c.err || "no output") : c.out;
    td.appendChild(el("pre", text.length > 1200 ? text.slice(0, 1200) + " …" : text, "text"));
    tr.appendChild(td);
    tr.appendChild(el("td", automatic(c), "lb-auto"));
    const verdict = select([["", "–"], ["pass", "✓ pass"], ["fail", "✗ fail"]], label.verdict, (v) => update(c, "verdict", v || null));
    verdict.className = "lb-verdict";
    verdict.setAttribute("aria-label", "verdict for " + c.id);
    tr.appendChild(el("td")).appendChild(verdict);
    const rating = select([["", "–"], ["1", "1"], ["2", "2"], ["3", "3"], ["4", "4"], ["5", "5"]], label.rating, (v) => update(c, "rating", v ? Number(v) : null));
    rating.className = "lb-rating";
    rating.setAttribute("aria-label", "rating for " + c.id);
    tr.appendChild(el("td")).appendChild(rating);
    const note = el("input", null, "lb-note");
    note.type = "text";
    note.value = label.note || "";
    note.setAttribute("aria-label", "note for " + c.id);
    note.addEventListener("change", () => update(c, "note", note.value));
    tr.appendChild(el("td")).appendChild(note);
    return tr;
  }

  const given = () => Object.values(labels).filter((x) => x.verdict || x.rating);
  function exported() {
    const list = given();
    return list.map((x) => {
      const out = { run: run, suite: x.suite, case: x.case, variant: x.variant, repeat: x.repeat, labeller: x.labeller, time: x.time };
      if (x.verdict) out.verdict = x.verdict;
      if (x.rating) out.rating = x.rating;
      if (x.note) out.note = x.note;
      return JSON.stringify(out);
    }).join("\n") + (list.length ? "\n" : "");
  }

  function refresh() {
    const n = given().length;
    $("lb-count").textContent = n + " labelled";
    $("lb-jsonl").value = exported();
  }

  const tbody = document.querySelector("#lb-table tbody");
  const section = $("labelling");
  let found = { q: null, hits: null };  // the last search's matches, over every case
  async function search(q) {
    if (found.q !== q) {
      const progress = (k, n) => { $("lb-count").textContent = `searching: ${Math.floor((100 * k) / n)}% of the cases read`; };
      const hits = await D.scan(q, (c) => c.id + "\n" + (c.o || ""), progress, () => $("lb-filter").value.trim().toLowerCase() === q);
      if (hits === null) return null;
      found = { q, hits };
    }
    return found.hits;
  }
  let generation = 0;
  async function render() {
    const mine = ++generation;
    section.setAttribute("aria-busy", "true");
    const q = $("lb-filter").value.trim().toLowerCase();
    const only = $("lb-only").checked;
    const hits = q ? await search(q) : null;
    if (mine !== generation || (q && hits === null)) return;
    const rows = [];
    for (let i = 0; i < ix.n; i++) {
      const label = only ? labels[keyAt(i)] : null;
      if ((!only || (label && (label.verdict || label.rating))) && (hits === null || hits[i])) rows.push(i);
    }
    const page = rows.slice(0, shown);
    const got = await D.cases(page);
    if (mine !== generation) return;
    tbody.replaceChildren(...page.map((i) => row(entry(i, got.get(i)))));
    $("lb-more").hidden = rows.length <= shown;
    refresh();
    section.removeAttribute("aria-busy");
  }

  $("lb-export").addEventListener("click", () => {
    const blob = new Blob([exported()], { type: "application/x-ndjson" });
    const a = el("a");
    a.href = URL.createObjectURL(blob);
    a.download = "labels-" + (run || "run") + ".jsonl";
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  });
  $("lb-clear").addEventListener("click", () => { labels = {}; save(); render(); });
  $("lb-filter").addEventListener("input", () => { shown = PAGE; render(); });
  $("lb-only").addEventListener("change", () => { shown = PAGE; render(); });
  $("lb-more").addEventListener("click", () => { shown += PAGE; render(); });
  section.setAttribute("aria-busy", "true");
  D.ready.then(render).then(() => { document.body.dataset.labelsReady = "1"; });
})();
