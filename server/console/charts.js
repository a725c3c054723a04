// Hand-made SVG charts: grouped vertical bars over periods and horizontal bars per person,
// sized by a viewBox so they scale with the page. Every chart has a text alternative.

import { svg } from "./dom.js";

function niceMax(value) {
  if (!(value > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * magnitude >= value) return step * magnitude;
  }
  return 10 * magnitude;
}

/**
 * Bars per period: `labels` along the bottom, one bar per series in each group.
 * `series` = [{name, values: [number|null], cls}], `max` fixes the scale (e.g. 100 for %),
 * `target` draws a dashed line, `format` labels values.
 */
export function barChart({ labels, series, max, target, format = (v) => String(v), title }) {
  const width = 640;
  const height = 220;
  const left = 40;
  const bottom = 28;
  const top = 14;
  const plotW = width - left - 8;
  const plotH = height - top - bottom;
  const all = series.flatMap((s) => s.values).filter((v) => v !== null && v !== undefined);
  const top_ = max ?? niceMax(Math.max(0, ...all, target ?? 0));
  const y = (v) => top + plotH - (Math.max(0, v) / top_) * plotH;
  const groupW = plotW / Math.max(1, labels.length);
  const barW = Math.max(3, Math.min(28, (groupW * 0.75) / series.length));
  const parts = [];
  for (let i = 0; i <= 4; i += 1) {
    const v = (top_ / 4) * i;
    parts.push(svg("line", { class: i === 0 ? "axis" : "grid", x1: left, x2: width - 8, y1: y(v), y2: y(v) }));
    parts.push(svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end" }, format(v)));
  }
  const every = Math.ceil(labels.length / 12);
  labels.forEach((text, i) => {
    const gx = left + groupW * i + groupW / 2;
    const start = gx - (barW * series.length) / 2;
    series.forEach((s, j) => {
      const v = s.values[i];
      if (v === null || v === undefined) return;
      parts.push(svg("rect", { class: ["bar", s.cls], x: start + j * barW, y: y(v), width: barW - 1, height: Math.max(0, top + plotH - y(v)), rx: 2 },
        svg("title", {}, `${text} · ${s.name}: ${format(v)}`)));
    });
    if (i % every === 0) parts.push(svg("text", { x: gx, y: height - 10, "text-anchor": "middle" }, text));
  });
  if (target !== undefined && target !== null) {
    parts.push(svg("line", { class: "target", x1: left, x2: width - 8, y1: y(target), y2: y(target) }));
  }
  return svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title }, svg("title", {}, title), parts);
}

/** One horizontal bar per row: `rows` = [{label, value|null, cls}]. */
export function hbarChart({ rows, max, format = (v) => String(v), title }) {
  const width = 640;
  const rowH = 24;
  const left = 150;
  const right = 56;
  const height = rows.length * rowH + 8;
  const scale = max ?? niceMax(Math.max(0, ...rows.map((r) => r.value ?? 0)));
  const parts = [];
  rows.forEach((r, i) => {
    const yy = 4 + i * rowH;
    parts.push(svg("text", { x: left - 8, y: yy + 15, "text-anchor": "end" }, r.label.length > 22 ? `${r.label.slice(0, 21)}…` : r.label));
    if (r.value === null || r.value === undefined) {
      parts.push(svg("text", { x: left + 4, y: yy + 15 }, "no data"));
      return;
    }
    const w = ((width - left - right) * Math.max(0, r.value)) / scale;
    parts.push(svg("rect", { class: ["bar", r.cls], x: left, y: yy + 3, width: Math.max(1, w), height: rowH - 8, rx: 2 },
      svg("title", {}, `${r.label}: ${format(r.value)}`)));
    parts.push(svg("text", { class: "value-label", x: left + w + 5, y: yy + 15 }, format(r.value)));
  });
  return svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title }, svg("title", {}, title), parts);
}
