import { extent, type Plot } from './plot-data.mts';

/**
 * A plot for the terminal: each series a character, `*` where two meet,
 * and under the x axis a strip that marks the bands (the soak's phases).
 */
export function asciiPlot(everything: Plot, width = 72, height = 16): string {
  const plot = { ...everything, series: everything.series.filter((s) => !s.svgOnly) };
  const { x0, x1, y0, y1 } = extent(plot);
  const column = (x: number) => Math.round(((x - x0) / (x1 - x0)) * (width - 1));
  const row = (y: number) => Math.round(((y1 - y) / (y1 - y0)) * (height - 1));
  const grid = Array.from({ length: height }, () => Array<string>(width).fill(' '));
  for (const series of plot.series) {
    for (const [x, y] of series.points) {
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      const cell = grid[row(y)]!;
      const c = column(x);
      cell[c] = cell[c] === ' ' || cell[c] === series.mark ? series.mark : '*';
    }
  }
  const strip = Array<string>(width).fill(' ');
  for (const band of plot.bands) for (let c = column(band.from); c <= column(band.to); c += 1) strip[c] = band.mark;
  const label = (y: number) => y.toFixed(1).padStart(8);
  const lines = grid.map((cells, r) => `${r === 0 ? label(y1) : r === height - 1 ? label(y0) : r === Math.floor(height / 2) ? label((y0 + y1) / 2) : ' '.repeat(8)} |${cells.join('')}`);
  const xRight = `${x1.toFixed(0)} ${plot.xLabel}`;
  return [
    plot.title,
    `${plot.yLabel.padStart(8)} |`,
    ...lines,
    `${' '.repeat(8)} +${'-'.repeat(width)}`,
    `${' '.repeat(8)}  ${strip.join('')}`,
    `${' '.repeat(8)}  ${x0.toFixed(0).padEnd(width - xRight.length)}${xRight}`,
    `${' '.repeat(8)}  ${[...plot.series.map((s) => `${s.mark} ${s.label}`), '* both', ...plot.bands.map((b) => `${b.mark} ${b.label}`)].join(', ')}`,
  ].join('\n');
}
