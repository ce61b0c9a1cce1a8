/**
 * A uPlot time-series chart, with the same figures as text beside it (a chart alone says nothing to a
 * screen reader). uPlot sets element styles from script, which the CSP allows.
 */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { fmtNum, fmtTime } from './ui.tsx';

// Distinguishable on white, and each series is also dashed differently (not told by colour alone).
const COLOURS = ['#1f5fbf', '#b3261e', '#2e7d32', '#7b1fa2', '#a65c00', '#00695c', '#5d4037', '#37474f', '#c2185b', '#455a64'];
const DASHES: Array<number[] | undefined> = [undefined, [6, 3], [2, 2], [8, 3, 2, 3], [1, 3]];

export interface ChartSeries {
  label: string;
  values: Array<number | null>;
}

export function TimeChart({
  title,
  t,
  series,
  height = 220,
  unit = '',
  caption,
}: {
  title: string;
  t: number[];
  series: ChartSeries[];
  height?: number;
  unit?: string;
  /** The figures in words; by default each series' total. */
  caption?: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el || t.length === 0 || series.length === 0) return;
    const opts: uPlot.Options = {
      title,
      width: Math.max(280, el.clientWidth),
      height,
      scales: { x: { time: true } },
      axes: [{ stroke: '#333' }, { stroke: '#333', label: unit || undefined, size: 60 }],
      series: [
        { label: 'Time', value: (_u, v) => (v === null ? '—' : fmtTime(v * 1000)) },
        ...series.map((s, i) => ({
          label: s.label,
          stroke: COLOURS[i % COLOURS.length]!,
          width: 2,
          ...(DASHES[i % DASHES.length] ? { dash: DASHES[i % DASHES.length]! } : {}),
          points: { show: t.length < 60 },
        })),
      ],
    };
    const data: uPlot.AlignedData = [t.map((x) => x / 1000), ...series.map((s) => s.values)];
    const plot = new uPlot(opts, data, el);
    const ro = new ResizeObserver(() => plot.setSize({ width: Math.max(280, el.clientWidth), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [title, t, series, height, unit]);

  if (t.length === 0 || series.length === 0) return <p class="muted">{title}: no data in this window.</p>;
  return (
    <figure class="chart">
      <div ref={box} class="chart-box" aria-hidden="true" />
      <figcaption>
        <span class="sr-only">{title}. </span>
        {caption ?? `Totals: ${series.map((s) => `${s.label} ${fmtNum(s.values.reduce<number>((n, v) => n + (v ?? 0), 0))}`).join(', ')}`}
      </figcaption>
    </figure>
  );
}
