/** What the soak's plots draw: lines over time, and shaded spans of time (the phases). */
export interface PlotSeries {
  label: string;
  /** The ASCII plot's character, and the SVG's colour. */
  mark: string;
  color: string;
  dashed?: boolean;
  /** Left out of the ASCII plot, where four lines crowd each other. */
  svgOnly?: boolean;
  points: Array<[number, number]>;
}

export interface PlotBand {
  from: number;
  to: number;
  label: string;
  mark: string;
  color: string;
}

export interface Plot {
  title: string;
  xLabel: string;
  yLabel: string;
  series: PlotSeries[];
  bands: PlotBand[];
}

/** The x and y ranges that hold every point, the y range padded a little and never empty. */
export function extent(plot: Plot): { x0: number; x1: number; y0: number; y1: number } {
  const points = plot.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xs = points.map(([x]) => x);
  const ys = points.map(([, y]) => y);
  const [x0, x1] = [Math.min(0, ...xs), Math.max(...xs, ...plot.bands.map((b) => b.to))];
  const [low, high] = [Math.min(...ys), Math.max(...ys)];
  const pad = Math.max((high - low) * 0.05, 1);
  return { x0, x1: x1 > x0 ? x1 : x0 + 1, y0: Math.max(0, low - pad), y1: high + pad };
}
