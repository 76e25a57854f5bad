/**
 * One SVG line chart: documents completed over time. Small enough to write by hand; a charting
 * library would bring a browser or a canvas binary for four polylines.
 */
export interface Series {
  label: string;
  /** Seconds at which each document finished, ascending. */
  finishedAt: number[];
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd'];
const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** A "nice" tick step (1, 2 or 5 × 10^k) giving about `count` ticks over `span`. */
function tickStep(span: number, count: number): number {
  const raw = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * magnitude).find((step) => step >= raw) ?? raw;
}

export function completionChart(title: string, total: number, series: Series[], idealS: number): string {
  const width = 760;
  const height = 400;
  const margin = { left: 60, right: 20, top: 40, bottom: 90 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const maxS = Math.max(idealS, ...series.map((s) => s.finishedAt.at(-1) ?? 0)) * 1.02;
  const x = (s: number) => margin.left + (s / maxS) * plotW;
  const y = (n: number) => margin.top + plotH - (n / total) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(title)}: documents completed over time</title>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="14">${escapeXml(title)}</text>`,
  ];
  const xStep = tickStep(maxS, 8);
  for (let s = 0; s <= maxS; s += xStep) {
    parts.push(
      `<line x1="${x(s)}" y1="${margin.top}" x2="${x(s)}" y2="${margin.top + plotH}" stroke="#eee"/>`,
      `<text x="${x(s)}" y="${margin.top + plotH + 16}" text-anchor="middle">${Math.round(s)}</text>`,
    );
  }
  const yStep = tickStep(total, 5);
  for (let n = 0; n <= total; n += yStep) {
    parts.push(
      `<line x1="${margin.left}" y1="${y(n)}" x2="${margin.left + plotW}" y2="${y(n)}" stroke="#eee"/>`,
      `<text x="${margin.left - 6}" y="${y(n) + 4}" text-anchor="end">${n}</text>`,
    );
  }
  parts.push(
    `<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`,
    `<text x="${margin.left + plotW / 2}" y="${margin.top + plotH + 34}" text-anchor="middle">simulated seconds</text>`,
    `<text transform="translate(16 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">documents completed</text>`,
    // The ideal: the model's lower bound, as an even rate to the last document.
    `<line x1="${x(0)}" y1="${y(0)}" x2="${x(idealS)}" y2="${y(total)}" stroke="#888" stroke-dasharray="6 4" stroke-width="2"/>`,
  );
  series.forEach((s, i) => {
    const points = [
      `${x(0)},${y(0)}`,
      ...s.finishedAt.map((at, n) => `${x(at).toFixed(1)},${y(n + 1).toFixed(1)}`),
    ];
    parts.push(
      `<polyline points="${points.join(' ')}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2"/>`,
    );
  });
  const legend = [
    ...series.map((s, i) => ({ label: s.label, color: COLORS[i % COLORS.length]!, dash: '' })),
    { label: 'ideal (lower bound)', color: '#888', dash: '6 4' },
  ];
  legend.forEach((entry, i) => {
    const lx = margin.left + (i % 3) * 230;
    const ly = margin.top + plotH + 56 + Math.floor(i / 3) * 18;
    parts.push(
      `<line x1="${lx}" y1="${ly - 4}" x2="${lx + 24}" y2="${ly - 4}" stroke="${entry.color}" stroke-width="2" stroke-dasharray="${entry.dash}"/>`,
      `<text x="${lx + 30}" y="${ly}">${escapeXml(entry.label)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
