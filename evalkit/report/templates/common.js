"use strict";
// The browser's copy of evalkit/_util/numbers.py (a browser test checks that they agree): numbers by
// kind, never in scientific notation.
const EvalkitNumbers = (() => {
  const MISSING = "–";
  const LABELS = { latency_p50_ms: "latency P50 ms", latency_p95_ms: "latency P95 ms", latency_p99_ms: "latency P99 ms",
    cost_per_case_usd: "cost per 1k cases", pass_rate: "pass rate", error_rate: "error rate" };
  const formats = new Map();  // one Intl.NumberFormat per precision: building one is slow
  const fixed = (v, d) => {
    if (!formats.has(d)) formats.set(d, new Intl.NumberFormat("en-US", { minimumFractionDigits: d, maximumFractionDigits: d, useGrouping: true }));
    let t = formats.get(d).format(v);
    if (/^-[0.,]*$/.test(t)) t = t.slice(1);  // -0.000 reads as a sign that is not there
    return t;
  };
  const costDigits = (v) => (v === 0 || Math.abs(v) >= 1 ? 2 : Math.max(2, 2 - Math.floor(Math.log10(Math.abs(v)))));
  function number(v, kind) {
    if (v === null || v === undefined || Number.isNaN(v)) return MISSING;
    kind = kind || "score";
    if (kind === "count") return fixed(Math.round(v), 0);
    if (kind === "rate") return fixed(v * 100, 1) + "%";
    if (kind === "ms") return fixed(v, Math.abs(v) >= 100 ? 0 : 1);
    if (kind === "cost") {
      let t = fixed(Math.abs(v), costDigits(v));
      if (t.includes(".") && Math.abs(v) < 1) {
        t = t.replace(/0+$/, "");
        t += "0".repeat(Math.max(0, 2 - t.split(".")[1].length));
      }
      return (v < 0 && /[1-9]/.test(t) ? "-" : "") + "$" + t;
    }
    return fixed(v, Math.abs(v) < 10 ? 3 : 1);
  }
  function signed(v, kind) {
    if (v === null || v === undefined) return MISSING;
    const t = kind === "rate" ? fixed(Math.abs(v) * 100, 1) + " pp" : number(Math.abs(v), kind);
    if (!/[1-9]/.test(t)) return "±" + t;
    return (v < 0 ? "-" : "+") + t;
  }
  function kindOf(metric) {
    if (metric.endsWith("_ms") || metric.startsWith("latency")) return "ms";
    if (metric.endsWith("_usd") || metric.startsWith("cost")) return "cost";
    if (metric.endsWith("_rate") || metric.endsWith("_share")) return "rate";
    return "score";
  }
  const label = (metric) => LABELS[metric] || metric;
  return Object.freeze({ number, signed, kindOf, label, MISSING });
})();

// Shared by the output matrix and the case table: the run's data (parsed once), DOM helpers
// that only ever place text with textContent, and a word-level diff.
const EvalkitData = (() => {
  const data = JSON.parse(document.getElementById("evalkit-data").textContent);
  // the cases come in blocks, each adding its strings to the table (indices are global)
  data.strings = data.strings || [];
  data.cases = data.cases || [];
  for (const block of document.querySelectorAll("script.evalkit-cases")) {
    const part = JSON.parse(block.textContent);
    for (const text of part.strings) data.strings.push(text);
    for (const c of part.cases) data.cases.push(c);
  }
  const S = data.strings;
  const str = (i) => (i === null || i === undefined ? null : S[i]);
  // decorated in place: a copy of every case would double the page's memory at 100,000 cases
  const cases = data.cases;
  cases.forEach((c, i) => { c.idx = i; c.suite = str(c.s); c.variant = str(c.v); c.tags = c.t.map(str); });
  // variants of each suite in the summary's order
  const order = new Map();
  for (const g of (data.summary && data.summary.groups) || []) {
    if (!order.has(g.suite)) order.set(g.suite, []);
    order.get(g.suite).push(g.variant);
  }
  for (const c of cases) {
    if (!order.has(c.suite)) order.set(c.suite, []);
    if (!order.get(c.suite).includes(c.variant)) order.get(c.suite).push(c.variant);
  }
  const baselines = new Map();
  for (const g of (data.diff && data.diff.groups) || []) {
    baselines.set(g.suite + "\u0000" + g.variant, { run: g.baseline_run, variant: g.baseline_variant || g.variant });
  }
  return { data, str, cases, order, baselines };
})();

const EvalkitDom = (() => {
  const el = (tag, text, cls) => {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  };
  const words = (text) => text.match(/\s+|[^\s]+/g) || [];
  // LCS over words: [op, word] with op "=" kept, "+" only in b, "-" only in a; null when too long
  function diffWords(a, b) {
    const x = words(a), y = words(b);
    if (x.length * y.length > 4e6) return null;
    const w = y.length + 1, dp = new Uint32Array((x.length + 1) * w);  // dp[i * w + j]: LCS of x[i:], y[j:]
    for (let i = x.length - 1; i >= 0; i--)
      for (let j = y.length - 1; j >= 0; j--)
        dp[i * w + j] = x[i] === y[j] ? dp[(i + 1) * w + j + 1] + 1 : Math.max(dp[(i + 1) * w + j], dp[i * w + j + 1]);
    const out = [];
    let i = 0, j = 0;
    while (i < x.length || j < y.length) {
      if (i < x.length && j < y.length && x[i] === y[j]) { out.push(["=", x[i]]); i++; j++; }
      else if (j < y.length && (i >= x.length || dp[i * w + j + 1] >= dp[(i + 1) * w + j])) { out.push(["+", y[j]]); j++; }
      else { out.push(["-", x[i]]); i++; }
    }
    return out;
  }
  // the whole of b, its words not in a marked; with `removed`, a's dropped words struck through
  // (set off by spaces, so that they never run into the words around them)
  function marked(a, b, removed) {
    const frag = document.createDocumentFragment();
    const ops = diffWords(a, b);
    if (ops === null) { frag.appendChild(document.createTextNode(b)); return frag; }
    let last = " ", pending = false;
    const put = (node, text) => {
      if (pending && !/^\s/.test(text) && !/\s$/.test(last)) frag.appendChild(document.createTextNode(" "));
      pending = false;
      frag.appendChild(node);
      last = text;
    };
    for (const [op, w] of ops) {
      const space = /^\s+$/.test(w);
      if (op === "=" || (op === "+" && space)) put(document.createTextNode(w), w);
      else if (op === "+") put(el("span", w, "ins"), w);
      else if (removed && !space) {
        if (!/\s$/.test(last)) put(document.createTextNode(" "), " ");
        put(el("span", w, "del"), w);
        pending = true;
      }
    }
    return frag;
  }
  return { el, marked };
})();
