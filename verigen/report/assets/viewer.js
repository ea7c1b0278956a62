// verigen report viewer. Every string from the run (prompts, completions, answers, details,
// ids, model names) is model output or user data: it is only ever put in the page as a text
// node (textContent / createTextNode), never as HTML, and never as a URL.
"use strict";
(function () {
  const OUTCOMES = ["accepted", "rejected", "no_answer", "timeout", "error"];
  const PAGE = 50;
  const $ = (id) => document.getElementById(id);

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  async function decode(b64) {
    let bytes;
    try {
      const res = await fetch("data:application/octet-stream;base64," + b64);
      bytes = await res.arrayBuffer();
    } catch (e) {
      const bin = atob(b64);
      const arr = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) arr[i] = bin.charCodeAt(i);
      bytes = arr.buffer;
    }
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return JSON.parse(await new Response(stream).text());
  }

  function fmt(v) {
    return v === null || v === undefined ? "n/a" : Number(v).toFixed(3);
  }

  function table(headers, rows) {
    const t = el("table", "grid");
    const tr = el("tr");
    headers.forEach((h) => tr.appendChild(el("th", null, h)));
    t.appendChild(el("thead")).appendChild(tr);
    const body = t.appendChild(el("tbody"));
    rows.forEach((r) => {
      const row = el("tr");
      r.forEach((c) => row.appendChild(el("td", null, c)));
      body.appendChild(row);
    });
    return t;
  }

  function card(parent, title, child) {
    const c = parent.appendChild(el("div", "card"));
    c.appendChild(el("h2", null, title));
    c.appendChild(child);
    return c;
  }

  function summary(D) {
    const box = $("summary");
    const cards = box.appendChild(el("div", "cards"));
    const m = D.meta;
    const facts = el("dl", "facts");
    Object.keys(m).forEach((k) => {
      facts.appendChild(el("dt", null, k));
      facts.appendChild(el("dd", null, m[k]));
    });
    card(cards, "Run", facts);
    card(cards, "Outcomes", table(["outcome", "count"], OUTCOMES.map((o) => [o, D.outcomes[o] || 0])));
    if (D.curves.length) {
      card(cards, "pass@k and maj@k (95% bootstrap CI)", table(["k", "pass@k", "CI", "maj@k", "CI", "problems", "missing"], D.curves.map((c) => [
        c.k, fmt(c.pass), c.pass_ci ? fmt(c.pass_ci[0]) + " - " + fmt(c.pass_ci[1]) : "",
        fmt(c.maj), c.maj_ci ? fmt(c.maj_ci[0]) + " - " + fmt(c.maj_ci[1]) : "", c.problems, c.missing])));
    }
    D.tables.forEach((t) => card(cards, t.title, table(t.head, t.rows)));
    if (D.compare.length > 1) card(box, "Runs side by side", table(D.compare_head, D.compare));
    const plots = el("div", "plots");
    Object.keys(D.plots).forEach((name) => {
      const fig = el("figure");
      const img = el("img");
      const uri = D.plots[name];
      if (typeof uri === "string" && uri.startsWith("data:image/png;base64,")) img.src = uri;
      img.alt = name;
      fig.appendChild(img);
      fig.appendChild(el("figcaption", null, name));
      plots.appendChild(fig);
    });
    const details = box.appendChild(el("details"));
    details.open = true;
    details.appendChild(el("summary", null, "Plots"));
    details.appendChild(plots);
  }

  function browser(D) {
    const S = D.samples;
    const n = S.p.length;
    const problemIds = D.problems.map((p) => p[0]);
    let lowerText = null;
    let matches = new Int32Array(0);
    let page = 0;
    let selected = -1;

    const outcomeSel = $("filter-outcome");
    const counts = {};
    for (let i = 0; i < n; i++) counts[S.o[i]] = (counts[S.o[i]] || 0) + 1;
    outcomeSel.appendChild(new Option("all outcomes (" + n + ")", ""));
    OUTCOMES.forEach((o, code) => outcomeSel.appendChild(new Option(o + " (" + (counts[code] || 0) + ")", String(code))));

    function filter() {
      const oc = outcomeSel.value === "" ? -1 : Number(outcomeSel.value);
      const prob = $("filter-problem").value.trim().toLowerCase();
      const ans = $("filter-answer").value.trim();
      const text = $("filter-text").value.trim().toLowerCase();
      let probOk = null;
      if (prob) probOk = problemIds.map((id) => id.toLowerCase().includes(prob));
      if (text && lowerText === null) lowerText = S.t.map((t) => t.toLowerCase());
      const out = new Int32Array(n);
      let k = 0;
      for (let i = 0; i < n; i++) {
        if (oc >= 0 && S.o[i] !== oc) continue;
        if (probOk && !probOk[S.p[i]]) continue;
        if (ans && (S.a[i] === null || !S.a[i].includes(ans))) continue;
        if (text && !lowerText[i].includes(text) && !D.problems[S.p[i]][3].includes(text)) continue;
        out[k++] = i;
      }
      matches = out.subarray(0, k);
      page = 0;
      draw();
    }

    function draw() {
      const pages = Math.max(1, Math.ceil(matches.length / PAGE));
      page = Math.min(page, pages - 1);
      $("match-count").textContent = matches.length + " of " + n + " samples";
      $("page-info").textContent = "page " + (page + 1) + " / " + pages;
      $("prev").disabled = page === 0;
      $("next").disabled = page >= pages - 1;
      const body = $("rows");
      body.replaceChildren();
      const end = Math.min(matches.length, (page + 1) * PAGE);
      for (let j = page * PAGE; j < end; j++) {
        const i = matches[j];
        const tr = el("tr", i === selected ? "sel" : "");
        tr.dataset.i = String(i);
        tr.appendChild(el("td", "mono", problemIds[S.p[i]]));
        tr.appendChild(el("td", "num", S.i[i]));
        tr.appendChild(el("td", "oc " + OUTCOMES[S.o[i]], OUTCOMES[S.o[i]]));
        tr.appendChild(el("td", "mono", S.a[i] === null ? "" : S.a[i].slice(0, 60)));
        tr.appendChild(el("td", null, D.details[S.d[i]].slice(0, 90)));
        tr.appendChild(el("td", "num", S.ct[i] === null ? "" : S.ct[i]));
        body.appendChild(tr);
      }
    }

    function section(parent, title, text, cls) {
      parent.appendChild(el("h3", null, title));
      parent.appendChild(el("pre", cls || "text", text));
    }

    function show(i) {
      selected = i;
      const box = $("detail");
      box.replaceChildren();
      const prob = D.problems[S.p[i]];
      const left = el("div", "col");
      const right = el("div", "col");
      left.appendChild(el("h3", null, "prompt"));
      prob[1].forEach((m) => {
        const msg = el("div", "msg");
        msg.appendChild(el("div", "role", m[0]));
        msg.appendChild(el("pre", "text", m[1]));
        left.appendChild(msg);
      });
      section(left, "completion", S.t[i]);
      right.appendChild(el("h3", null, "verdict"));
      right.appendChild(el("div", "oc big " + OUTCOMES[S.o[i]], OUTCOMES[S.o[i]]));
      section(right, "extracted answer", S.a[i] === null ? "(none)" : S.a[i], "text mono");
      section(right, "verdict detail (failing test, program output)", D.details[S.d[i]] || "(none)", "text mono");
      const prov = {
        task: D.meta.task, problem_id: prob[0], sample_index: S.i[i], model: D.models[S.m[i]],
        params: D.params[S.pa[i]], verifier: D.verifiers[S.v[i]], finish_reason: S.f[i],
        completion_tokens: S.ct[i], latency_s: S.l[i], run_id: D.meta["run id"],
      };
      right.appendChild(el("h3", null, "provenance"));
      right.appendChild(table(["field", "value"], Object.keys(prov).map((k) => [k, prov[k] === null ? "" : prov[k]])));
      section(right, "reference (tests / gold answer)", prob[2], "text mono small");
      box.appendChild(left);
      box.appendChild(right);
      draw();
    }

    let timer = null;
    const later = () => { clearTimeout(timer); timer = setTimeout(filter, 150); };
    outcomeSel.addEventListener("change", filter);
    ["filter-problem", "filter-answer", "filter-text"].forEach((id) => $(id).addEventListener("input", later));
    $("prev").addEventListener("click", () => { page--; draw(); });
    $("next").addEventListener("click", () => { page++; draw(); });
    $("rows").addEventListener("click", (ev) => {
      const tr = ev.target.closest("tr");
      if (tr && tr.dataset.i !== undefined) show(Number(tr.dataset.i));
    });
    filter();
    if (n) show(matches.length ? matches[0] : 0);
  }

  async function main() {
    const D = await decode($("payload").textContent.trim());
    D.problems.forEach((p) => p.push(p[1].map((m) => m[1]).join("\n").toLowerCase()));
    document.title = "verigen report: " + D.meta.task;
    $("title").textContent = "verigen run: " + D.meta.task + " (" + D.meta.split + ")";
    summary(D);
    browser(D);
    document.body.dataset.ready = "1";
  }

  main().catch((e) => {
    $("title").textContent = "could not load the report data: " + e;
    console.error(e);
  });
})();
