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

// Shared by the output matrix, the case table and labelling: the run's data and DOM helpers that
// only ever place text with textContent, and a word-level diff.
//
// The cases come in chunks, each two inert <script type="text/plain"> blocks of gzipped JSON in
// base64 (text that cannot close its element): the chunk's index (the columns the tables filter,
// sort and list by: ids, verdicts, scores, latencies, output hashes) and the chunk's cases (the
// text: prompts, outputs, references, traces), each with its own string table. Every index is
// read at load, off the first paint; a chunk's cases are decoded only when a page shows them,
// or one chunk at a time by a search.
const EvalkitData = (() => {
  const data = JSON.parse(document.getElementById("evalkit-data").textContent);
  const VERDICTS = ["flip", "error", "fail", "none", "pass"];  // evalkit/report/html.py VERDICTS
  const indexNodes = [...document.querySelectorAll("script.evalkit-index")];
  const caseNodes = [...document.querySelectorAll("script.evalkit-cases")];
  const starts = [];
  let total = 0;
  for (const node of indexNodes) { starts.push(total); total += Number(node.dataset.n); }

  const bytes = (b64) => {
    if (Uint8Array.fromBase64) return Uint8Array.fromBase64(b64);
    const bin = atob(b64), out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  };
  const utf8 = new TextDecoder();
  const unpack = async (node) => {
    const stream = new Blob([bytes(node.textContent)]).stream().pipeThrough(new DecompressionStream("gzip"));
    return utf8.decode(await new Response(stream).arrayBuffer());
  };

  // names (suites, variants, tags) numbered once for the whole run
  const names = [], nameIds = new Map();
  const intern = (text) => {
    let k = nameIds.get(text);
    if (k === undefined) { k = names.length; names.push(text); nameIds.set(text, k); }
    return k;
  };
  const tagSets = [], tagSetIds = new Map();  // each case's tags as one number: the sets repeat
  const ix = {
    n: total, s: new Uint32Array(total), v: new Uint32Array(total), t: new Uint32Array(total), id: new Array(total),
    r: new Uint32Array(total), vd: new Uint8Array(total), rg: new Uint8Array(total), lat: new Float64Array(total),
    oh: new Float64Array(total), bh: new Float64Array(total), bp: new Int8Array(total), sc: new Map(), bs: new Map(),
  };
  // a score column: NaN where the score has no value, -Infinity where the case has no such score
  const column = (map, name) => {
    if (!map.has(name)) map.set(name, new Float64Array(total).fill(-Infinity));
    return map.get(name);
  };
  function fill(part, at) {
    const local = part.names.map(intern);
    for (let j = 0; j < part.n; j++) {
      const i = at + j;
      ix.s[i] = local[part.s[j]];
      ix.v[i] = local[part.v[j]];
      const tags = part.t[j].map((k) => local[k]), key = tags.join(",");
      if (!tagSetIds.has(key)) { tagSetIds.set(key, tagSets.length); tagSets.push(tags); }
      ix.t[i] = tagSetIds.get(key);
      ix.id[i] = part.id[j];
      ix.r[i] = part.r[j];
      ix.vd[i] = part.vd[j];
      ix.rg[i] = part.rg[j];
      ix.lat[i] = part.lat[j] === null ? NaN : part.lat[j];
      ix.oh[i] = part.oh[j];
      ix.bh[i] = part.bh[j] === null ? NaN : part.bh[j];
      ix.bp[i] = part.bp[j] === null ? -1 : part.bp[j] ? 1 : 0;
    }
    for (const [map, cols] of [[ix.sc, part.sc], [ix.bs, part.bs]]) {
      for (const [name, values] of Object.entries(cols)) {
        const col = column(map, name);
        values.forEach((v, j) => { if (v !== false) col[at + j] = v === null ? NaN : v; });
      }
    }
  }
  const listeners = [];
  const ready = (async () => {
    const AHEAD = 4, pending = [];  // a few decompressing while one is read
    for (let k = 0; k < Math.min(AHEAD, indexNodes.length); k++) pending.push(unpack(indexNodes[k]));
    for (let k = 0; k < indexNodes.length; k++) {
      const text = await pending.shift();
      if (k + AHEAD < indexNodes.length) pending.push(unpack(indexNodes[k + AHEAD]));
      fill(JSON.parse(text), starts[k]);
      indexNodes[k].remove();  // read once: its text need not stay in the page
      for (const f of listeners) f(k + 1, indexNodes.length);
    }
  })();

  // a chunk's cases, their strings put back in place; the last few chunks are kept
  function decode(part, k) {
    const S = part.strings;
    const keys = part.keys;  // a case is a list of fields in this order: made an object again
    const s = (i) => (i === null || i === undefined ? null : S[i]);
    return part.cases.map((row, j) => {
      const c = {};
      for (let f = 0; f < keys.length; f++) c[keys[f]] = row[f];
      c.idx = starts[k] + j;
      c.suite = s(c.s); c.variant = s(c.v); c.tags = c.t.map(s);
      c.m = c.m.map((m) => [m[0], s(m[1])]);
      c.ref = c.ref.map(s); c.vr = s(c.vr); c.o = s(c.o); c.e = s(c.e); c.b = s(c.b); c.rq = s(c.rq);
      for (const v of Object.values(c.sc)) v[2] = s(v[2]);
      if (c.rt) c.rt = c.rt.map((x) => [s(x[0]), s(x[1]), x[2], s(x[3])]);
      if (c.tr) c.tr = c.tr.map((x) => [s(x[0]), s(x[1]), s(x[2]), s(x[3]), s(x[4]), x[5], s(x[6]), x[7]]);
      return c;
    });
  }
  const kept = new Map();
  function chunk(k) {
    if (kept.has(k)) { const p = kept.get(k); kept.delete(k); kept.set(k, p); return p; }
    const p = unpack(caseNodes[k]).then((text) => decode(JSON.parse(text), k));
    kept.set(k, p);
    if (kept.size > 8) kept.delete(kept.keys().next().value);
    return p;
  }
  const chunkOf = (i) => {
    let lo = 0, hi = starts.length - 1;
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (starts[mid] <= i) lo = mid; else hi = mid - 1; }
    return lo;
  };
  // the cases at these positions, as a Map position → case
  async function cases(positions) {
    const out = new Map(), wanted = new Map();
    for (const i of positions) {
      const k = chunkOf(i);
      if (!wanted.has(k)) wanted.set(k, []);
      wanted.get(k).push(i);
    }
    await Promise.all([...wanted].map(async ([k, list]) => {
      const part = await chunk(k);
      for (const i of list) out.set(i, part[i - starts[k]]);
    }));
    return out;
  }
  // Every case whose textOf(case), lowercased, holds q (lowercased): chunk by chunk, a chunk
  // whose text cannot hold it skipped unparsed; null when alive() says the search is stale.
  async function scan(q, textOf, progress, alive) {
    const hits = new Uint8Array(total);
    const quick = /^[\x20-\x7e]*$/.test(q) ? JSON.stringify(q).slice(1, -1) : null;
    const AHEAD = 3, pending = [];  // a few chunks decompressing while one is scanned
    for (let k = 0; k < Math.min(AHEAD, caseNodes.length); k++) pending.push(unpack(caseNodes[k]));
    for (let k = 0; k < caseNodes.length; k++) {
      const text = await pending.shift();
      if (!alive()) return null;
      if (k + AHEAD < caseNodes.length) pending.push(unpack(caseNodes[k + AHEAD]));
      if (quick === null || text.toLowerCase().includes(quick)) {
        for (const c of decode(JSON.parse(text), k)) if (textOf(c).toLowerCase().includes(q)) hits[c.idx] = 1;
      }
      progress(k + 1, caseNodes.length);
    }
    return hits;
  }
  // variants of each suite in the summary's order, then as the cases bring them
  const order = new Map();
  for (const g of (data.summary && data.summary.groups) || []) {
    if (!order.has(g.suite)) order.set(g.suite, []);
    order.get(g.suite).push(g.variant);
  }
  ready.then(() => {
    const seen = new Set();
    for (let i = 0; i < total; i++) {
      const key = ix.s[i] * 4294967296 + ix.v[i];
      if (seen.has(key)) continue;
      seen.add(key);
      const suite = names[ix.s[i]], variant = names[ix.v[i]];
      if (!order.has(suite)) order.set(suite, []);
      if (!order.get(suite).includes(variant)) order.get(suite).push(variant);
    }
  });
  const baselines = new Map();
  for (const g of (data.diff && data.diff.groups) || []) {
    baselines.set(g.suite + "\u0000" + g.variant, { run: g.baseline_run, variant: g.baseline_variant || g.variant });
  }
  const onProgress = (f) => listeners.push(f);
  const nameId = (text) => (nameIds.has(text) ? nameIds.get(text) : -1);
  return { data, VERDICTS, ix, names, nameId, tagSets, ready, onProgress, cases, scan, order, baselines };
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
