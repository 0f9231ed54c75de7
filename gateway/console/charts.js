// Cairn console: line charts on a plain canvas (no library): request rate,
// throughput and latency over the last hour (or since the first sample, at
// least 5 minutes), from /history.json.
"use strict";

const Charts = (() => {
  const COLORS = ["#2f6fb0", "#c0392b", "#2e8b57", "#b07d2f"];

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  // series: [{name, points: [[t_ms, value]]}]; fmt(value) labels the y axis.
  function line(canvas, title, series, fmt) {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(200, canvas.clientWidth || 300);
    const hgt = Math.max(120, canvas.clientHeight || 160);
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(hgt * dpr);
    const g = canvas.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, hgt);
    g.font = "12px system-ui, sans-serif";
    const left = 78, right = 10, top = 24, bottom = 22;
    const pw = w - left - right, ph = hgt - top - bottom;
    const now = Date.now();
    // The last hour, or since the first sample (at least 5 minutes).
    let first = now;
    for (const s of series) if (s.points.length) first = Math.min(first, s.points[0][0]);
    const span = Math.min(3600e3, Math.max(300e3, now - first));
    const t0 = now - span;
    let max = 0;
    for (const s of series) for (const [, v] of s.points) max = Math.max(max, v);
    max = niceMax(max);
    g.fillStyle = "#222";
    g.fillText(title, left, 14);
    // grid and y labels
    g.strokeStyle = "#ddd";
    g.fillStyle = "#666";
    g.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const y = top + ph - (ph * i) / 4;
      g.beginPath();
      g.moveTo(left, y);
      g.lineTo(left + pw, y);
      g.stroke();
      const label = fmt((max * i) / 4);
      g.fillText(label, left - 6 - g.measureText(label).width, y + 4);
    }
    const mins = Math.round(span / 60e3);
    g.fillText(`−${mins} min`, left, hgt - 6);
    g.fillText(`−${mins % 2 ? (mins / 2).toFixed(1) : mins / 2} min`, left + pw / 2 - 20, hgt - 6);
    g.fillText("now", left + pw - 22, hgt - 6);
    // lines
    let legendX = left + g.measureText(title).width + 16;
    series.forEach((s, i) => {
      const color = COLORS[i % COLORS.length];
      g.strokeStyle = color;
      g.lineWidth = 2;
      g.beginPath();
      let started = false;
      for (const [t, v] of s.points) {
        if (t < t0) continue;
        const x = left + (pw * (t - t0)) / (now - t0);
        const y = top + ph - (ph * v) / max;
        if (started) g.lineTo(x, y);
        else g.moveTo(x, y);
        started = true;
      }
      g.stroke();
      g.fillStyle = color;
      g.fillRect(legendX, 6, 10, 10);
      g.fillStyle = "#222";
      g.fillText(s.name, legendX + 14, 15);
      legendX += g.measureText(s.name).width + 30;
    });
    if (!series.some((s) => s.points.length)) {
      g.fillStyle = "#888";
      g.fillText("no samples yet", left + pw / 2 - 40, top + ph / 2);
    }
  }

  const rate = (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(v >= 10 ? 1 : 2)) + "/s";
  const throughput = (v) => UI.bytes(v) + "/s";
  const ms = (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(1)) + " ms";

  // Draws the three charts of `h` (the /history.json document) into `box`.
  function render(box, h) {
    const pick = (f) => (h.samples || []).map((s) => [s.t, f(s)]);
    const charts = [
      ["Requests", [["requests", pick((s) => s.requests_per_s)], ["errors", pick((s) => s.errors_per_s)]], rate],
      ["Throughput", [["in", pick((s) => s.in_bytes_per_s)], ["out", pick((s) => s.out_bytes_per_s)]], throughput],
      ["Latency", [["mean", pick((s) => s.latency_avg_ms)], ["p95", pick((s) => s.latency_p95_ms)]], ms],
    ];
    charts.forEach(([title, series, fmt], i) => {
      let c = box.querySelector(`canvas[data-chart="${i}"]`);
      if (!c) {
        c = UI.h("canvas", { "data-chart": String(i), id: `chart-${title.toLowerCase()}`, class: "chart" });
        box.append(c);
      }
      line(c, title, series.map(([name, points]) => ({ name, points })), fmt);
    });
  }

  return { line, render };
})();
