import { extent, type Plot } from './plot-data.mts';

const WIDTH = 860;
const HEIGHT = 320;
const MARGIN = { left: 64, right: 24, top: 56, bottom: 44 };

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Plots stacked one above the other in one SVG: polylines, shaded bands, ticks, a legend. No dependencies. */
export function svgPlot(plots: Plot[]): string {
  const panels = plots.map((plot, i) => `<g transform="translate(0 ${i * HEIGHT})">${panel(plot)}</g>`);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT * plots.length}" viewBox="0 0 ${WIDTH} ${HEIGHT * plots.length}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...panels,
    '</svg>',
    '',
  ].join('\n');
}

function panel(plot: Plot): string {
  const { x0, x1, y0, y1 } = extent(plot);
  const [left, right, top, bottom] = [MARGIN.left, WIDTH - MARGIN.right, MARGIN.top, HEIGHT - MARGIN.bottom];
  const x = (v: number) => left + ((v - x0) / (x1 - x0)) * (right - left);
  const y = (v: number) => bottom - ((v - y0) / (y1 - y0)) * (bottom - top);
  const xDigits = x1 - x0 < 10 ? 1 : 0;
  const out: string[] = [`<text x="${left}" y="20" font-size="14" font-weight="bold">${escape(plot.title)}</text>`];
  for (const band of plot.bands) {
    out.push(`<rect x="${x(band.from).toFixed(1)}" y="${top}" width="${(x(band.to) - x(band.from)).toFixed(1)}" height="${bottom - top}" fill="${band.color}" opacity="0.18"/>`);
    out.push(`<text x="${(x(band.from) + 4).toFixed(1)}" y="${top + 14}" fill="#555">${escape(band.label)}</text>`);
  }
  for (let i = 0; i <= 5; i += 1) {
    const value = y0 + ((y1 - y0) * i) / 5;
    out.push(`<line x1="${left}" x2="${right}" y1="${y(value).toFixed(1)}" y2="${y(value).toFixed(1)}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${left - 6}" y="${(y(value) + 4).toFixed(1)}" text-anchor="end">${value.toFixed(0)}</text>`);
    const at = x0 + ((x1 - x0) * i) / 5;
    out.push(`<text x="${x(at).toFixed(1)}" y="${bottom + 16}" text-anchor="middle">${at.toFixed(xDigits)}</text>`);
  }
  out.push(`<line x1="${left}" x2="${right}" y1="${bottom}" y2="${bottom}" stroke="#333"/><line x1="${left}" x2="${left}" y1="${top}" y2="${bottom}" stroke="#333"/>`);
  out.push(`<text x="${(left + right) / 2}" y="${HEIGHT - 8}" text-anchor="middle">${escape(plot.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${(top + bottom) / 2}) rotate(-90)" text-anchor="middle">${escape(plot.yLabel)}</text>`);
  let lx = left; // the legend, in a row between the title and the plot
  for (const series of plot.series) {
    const points = series.points.filter(([px, py]) => Number.isFinite(px) && Number.isFinite(py)).map(([px, py]) => `${x(px).toFixed(1)},${y(py).toFixed(1)}`);
    out.push(`<polyline fill="none" stroke="${series.color}" stroke-width="2"${series.dashed ? ' stroke-dasharray="6 4"' : ''} points="${points.join(' ')}"/>`);
    out.push(`<line x1="${lx}" x2="${lx + 24}" y1="36" y2="36" stroke="${series.color}" stroke-width="2"${series.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    out.push(`<text x="${lx + 30}" y="40">${escape(series.label)}</text>`);
    lx += 30 + series.label.length * 7 + 24;
  }
  return out.join('\n');
}
