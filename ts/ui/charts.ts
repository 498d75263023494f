/**
 * Live charts (uPlot): per operator, records in and out per second of each subtask over the
 * last minutes, one point per progress event.
 */

import uPlot from 'uplot';
import type { OperatorMetrics } from '../api/job.js';

/** Points kept per chart (at the default 500 ms interval: 5 minutes). */
const KEEP = 600;
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];

class OperatorChart {
  private readonly times: number[] = [];
  /** Per series: subtask s records in at 2s, records out at 2s + 1. */
  private readonly values: (number | null)[][];
  private readonly plot: uPlot;

  constructor(container: HTMLElement, name: string, private readonly parallelism: number) {
    this.values = Array.from({ length: parallelism * 2 }, () => []);
    const series: uPlot.Series[] = [{}];
    for (let s = 0; s < parallelism; s++) {
      const colour = PALETTE[s % PALETTE.length]!;
      const sub = parallelism > 1 ? ` #${s}` : '';
      series.push({ label: `in${sub}`, stroke: colour, width: 1.5, value: (_u, v) => fmt(v) });
      series.push({ label: `out${sub}`, stroke: colour, width: 1.5, dash: [6, 4], value: (_u, v) => fmt(v) });
    }
    this.plot = new uPlot(
      {
        title: name,
        width: 430,
        height: 170,
        series,
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
        axes: [{}, { values: (_u, ticks) => ticks.map((t) => fmt(t)), size: 60 }],
        legend: { live: true },
      },
      [[], ...this.values.map(() => [])],
      container,
    );
  }

  push(at: number, subtasks: readonly OperatorMetrics[]): void {
    this.times.push(at / 1000);
    for (let s = 0; s < this.parallelism; s++) {
      // An application instance's tasks all run as subtask 0: their rates summed, the instance's.
      const ms = subtasks.filter((x) => x.subtask === s);
      const sum = (f: (m: OperatorMetrics) => number | undefined): number | null => (ms.length === 0 ? null : ms.reduce((t, m) => t + (f(m) ?? 0), 0));
      this.values[2 * s]!.push(sum((m) => m.recordsInPerSecond));
      this.values[2 * s + 1]!.push(sum((m) => m.recordsOutPerSecond));
    }
    if (this.times.length > KEEP) {
      this.times.shift();
      for (const v of this.values) v.shift();
    }
    this.plot.setData([this.times, ...this.values] as uPlot.AlignedData);
  }
}

function fmt(v: number | null): string {
  if (v === null) return '–';
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M/s`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}K/s`;
  return `${v.toFixed(0)}/s`;
}

export class RateCharts {
  private readonly charts = new Map<number, { chart: OperatorChart; name: string }>();

  constructor(container: HTMLElement, operators: readonly { readonly id: number; readonly name: string; readonly parallelism: number }[]) {
    for (const o of operators) {
      const box = document.createElement('div');
      box.className = 'chart';
      box.dataset['testid'] = `chart-${o.id}`;
      container.appendChild(box);
      const title = `#${o.id} ${o.name}`;
      this.charts.set(o.id, { chart: new OperatorChart(box, title.length > 48 ? `${title.slice(0, 47)}…` : title, o.parallelism), name: o.name });
    }
  }

  push(at: number, operators: readonly OperatorMetrics[]): void {
    // By name too: a source's watermark generator reports under the source's id.
    for (const [id, c] of this.charts) c.chart.push(at, operators.filter((m) => m.id === id && m.name === c.name));
  }
}
