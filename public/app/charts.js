// SVG charts drawn from data: horizontal bars, a histogram and a min/avg/max range. Each
// chart is an image with a text alternative, so a screen reader gets the figures too.

const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function frame(title, description, width, height) {
  const root = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": `${title}: ${description}`,
    class: "chart",
  });
  root.append(svg("title", {}, `${title}: ${description}`));
  return root;
}

// items: [{label, value}] drawn as bars scaled to the largest value (or to `max`).
export function barChart(title, items, { unit = "", width = 360, max, format } = {}) {
  const row = 22;
  const labelWidth = 120;
  const height = Math.max(row, items.length * row) + 4;
  const top = max ?? Math.max(1, ...items.map((i) => i.value));
  const shown = format || ((v) => `${v}${unit}`);
  const description = items.map((i) => `${i.label} ${shown(i.value)}`).join(", ") || "no data";
  const root = frame(title, description, width, height);
  items.forEach((item, index) => {
    const y = index * row + 2;
    const barWidth = ((width - labelWidth - 44) * Math.min(item.value, top)) / top;
    root.append(
      svg("text", { x: labelWidth - 6, y: y + 14, "text-anchor": "end", class: "label" }, clip(item.label, 18)),
      svg("rect", { x: labelWidth, y: y + 3, width: Math.max(2, barWidth), height: row - 8, rx: 3, class: "bar" }),
      svg("text", { x: labelWidth + barWidth + 6, y: y + 14, class: "value" }, shown(item.value)),
    );
  });
  return root;
}

// buckets: [{min, max, count}] side by side as vertical bars on an axis labelled at the
// bucket edges (every other edge when there are many; only the two ends with `ends`).
// `name` says what a bucket is ("80–90 BPM") in the text alternative.
export function histogram(title, buckets, { width = 360, height = 150, ends = false, name = (b) => `${b.min}–${b.max}` } = {}) {
  const pad = { left: 14, right: 14, top: 18, bottom: 22 };
  const inner = width - pad.left - pad.right;
  const plot = height - pad.top - pad.bottom;
  const top = Math.max(1, ...buckets.map((b) => b.count));
  const step = inner / Math.max(1, buckets.length);
  const every = ends ? Infinity : buckets.length > 9 ? 2 : 1;
  const description =
    buckets.map((b) => `${name(b)}: ${b.count} track${b.count === 1 ? "" : "s"}`).join(", ") || "no data";
  const root = frame(title, description, width, height);
  root.append(svg("line", { x1: pad.left, y1: pad.top + plot, x2: width - pad.right, y2: pad.top + plot, class: "axis" }));
  buckets.forEach((b, index) => {
    const x = pad.left + index * step;
    const barHeight = (plot * b.count) / top;
    const y = pad.top + plot - barHeight;
    root.append(svg("rect", { x: x + 2, y, width: Math.max(2, step - 4), height: Math.max(b.count ? 2 : 0, barHeight), rx: 2, class: "bar" }));
    if (b.count) root.append(svg("text", { x: x + step / 2, y: y - 4, "text-anchor": "middle", class: "value" }, String(b.count)));
    if (index % every === 0) root.append(edge(x, height - 6, b.min));
  });
  const last = buckets[buckets.length - 1];
  if (last && (ends || buckets.length % every === 0)) root.append(edge(pad.left + inner, height - 6, last.max));
  return root;
}

function edge(x, y, value) {
  return svg("text", { x, y, "text-anchor": "middle", class: "label" }, String(value));
}

// A range on a fixed axis: a band from min to max and a mark at the average.
export function rangeChart(title, { min, max, avg }, { from, to, unit = "", width = 360 } = {}) {
  const height = 56;
  const pad = 16;
  const x = (v) => pad + ((Math.min(to, Math.max(from, v)) - from) / (to - from)) * (width - 2 * pad);
  const description = `from ${min}${unit} to ${max}${unit}, average ${avg}${unit}`;
  const root = frame(title, description, width, height);
  root.append(
    svg("line", { x1: pad, y1: 24, x2: width - pad, y2: 24, class: "axis" }),
    svg("rect", { x: x(min), y: 16, width: Math.max(2, x(max) - x(min)), height: 16, rx: 4, class: "band" }),
    svg("line", { x1: x(avg), y1: 10, x2: x(avg), y2: 38, class: "mark" }),
    svg("text", { x: x(avg), y: 52, "text-anchor": "middle", class: "value" }, `avg ${avg}${unit}`),
    svg("text", { x: pad, y: 10, class: "label" }, `${from}${unit}`),
    svg("text", { x: width - pad, y: 10, "text-anchor": "end", class: "label" }, `${to}${unit}`),
  );
  return root;
}

function clip(text, n) {
  const s = String(text);
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

// Release dates ("2005-09-12", "1997") → [{label: "1990s", value: count}], oldest first.
export function decades(dates) {
  const counts = new Map();
  for (const date of dates) {
    const year = parseInt(String(date || "").slice(0, 4), 10);
    if (!Number.isFinite(year) || year < 1900) continue;
    const decade = Math.floor(year / 10) * 10;
    counts.set(decade, (counts.get(decade) || 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => a[0] - b[0]).map(([d, n]) => ({ label: `${d}s`, value: n }));
}
