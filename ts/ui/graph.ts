/**
 * The job graph: operators grouped by task (a chain), laid out left to right by dagre, drawn as
 * SVG. Each operator is coloured by its busiest subtask as Flink's web UI does: blue when idle,
 * towards red when busy, grey to black when backpressured; a bar shows busy / backpressured /
 * idle time of its most loaded subtask.
 */

import { Graph, layout, type EdgeLabel, type GraphLabel, type NodeLabel } from '@dagrejs/dagre';
import type { OperatorMetrics } from '../api/job.js';
import type { PlanGraph } from '../plan/physical.js';
import { percent } from './format.js';
import { copyOf } from './instances.js';

const SVG = 'http://www.w3.org/2000/svg';
const NODE_W = 250;
const NODE_H = 84;

function el<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, parent?: Element): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  parent?.appendChild(e);
  return e;
}

function truncate(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** Flink's colours: idle blue to busy red by the busy share; backpressure from grey to black. */
export function loadColour(busy: number, backpressured: number): string {
  if (backpressured > busy && backpressured > 0.1) {
    const l = Math.round(70 - 50 * Math.min(1, backpressured));
    return `hsl(0, 0%, ${l}%)`;
  }
  const hue = Math.round(210 - 210 * Math.min(1, busy));
  return `hsl(${hue}, 70%, ${Math.round(80 - 25 * Math.min(1, busy))}%)`;
}

interface Drawn {
  readonly box: SVGRectElement;
  readonly rates: SVGTextElement;
  readonly detail: SVGTextElement;
  readonly bars: readonly [SVGRectElement, SVGRectElement, SVGRectElement];
  readonly parallelism: number;
  readonly name: string;
}

export class JobGraphView {
  private readonly drawn = new Map<number, Drawn>();

  constructor(
    container: HTMLElement,
    private readonly plan: PlanGraph,
  ) {
    const g = new Graph<GraphLabel, NodeLabel, EdgeLabel>({ compound: true, multigraph: true });
    g.setGraph({ rankdir: 'LR', nodesep: 40, ranksep: 70, marginx: 16, marginy: 28 });
    g.setDefaultEdgeLabel(() => ({}));
    const chains = new Set(plan.nodes.map((n) => n.chain));
    // A chain is a cluster around its operators (dagre sizes it); its label goes above it.
    for (const c of chains) g.setNode(`chain-${c}`, { width: 0, height: 0 });
    for (const n of plan.nodes) {
      g.setNode(`op-${n.id}`, { width: NODE_W, height: NODE_H });
      g.setParent(`op-${n.id}`, `chain-${n.chain}`);
    }
    plan.edges.forEach((e, i) => g.setEdge(`op-${e.from}`, `op-${e.to}`, { label: e.kind === 'chain' ? '' : e.label, width: e.kind === 'chain' ? 0 : 8 * e.label.length, height: 14, labelpos: 'c' }, `e${i}`));
    layout(g);
    const size = g.graph();
    const svg = el('svg', { width: size.width ?? 600, height: size.height ?? 200, viewBox: `0 0 ${size.width ?? 600} ${size.height ?? 200}`, role: 'img', 'aria-label': 'job graph' });
    const defs = el('defs', {}, svg);
    const marker = el('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, defs);
    el('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrow' }, marker);
    for (const c of chains) {
      const n = g.node(`chain-${c}`);
      const [x, y] = [(n.x ?? 0) - n.width / 2, (n.y ?? 0) - n.height / 2 - 16];
      const grp = el('g', { class: 'chain', 'data-chain': c }, svg);
      el('rect', { x, y, width: n.width, height: n.height + 16, rx: 8 }, grp);
      el('text', { x: x + 8, y: y + 12, class: 'chain-label' }, grp).textContent = `Task ${c + 1}`;
    }
    plan.edges.forEach((e, i) => {
      const edge = g.edge({ v: `op-${e.from}`, w: `op-${e.to}`, name: `e${i}` }) as EdgeLabel & { x?: number; y?: number };
      const pts = edge.points ?? [];
      const d = pts.map((p, j) => `${j === 0 ? 'M' : 'L'} ${p.x} ${p.y}`).join(' ');
      const grp = el('g', { class: `edge ${e.kind === 'chain' ? 'chained' : 'exchange'}`, 'data-from': e.from, 'data-to': e.to }, svg);
      el('path', { d, 'marker-end': 'url(#arrow)' }, grp);
      if (e.kind !== 'chain' && edge.x !== undefined && edge.y !== undefined) el('text', { x: edge.x, y: edge.y - 4, class: 'edge-label', 'text-anchor': 'middle' }, grp).textContent = e.label;
    });
    for (const n of plan.nodes) {
      const pos = g.node(`op-${n.id}`);
      const x = (pos.x ?? 0) - NODE_W / 2;
      const y = (pos.y ?? 0) - NODE_H / 2;
      const grp = el('g', { class: 'operator', 'data-op': n.id, transform: `translate(${x}, ${y})` }, svg);
      const title = el('title', {}, grp);
      title.textContent = `#${n.id} ${n.name} (${n.kind}), parallelism ${n.parallelism}${n.onMain ? ', on the calling thread' : ''}`;
      const box = el('rect', { width: NODE_W, height: NODE_H, rx: 6, class: 'op-box', fill: loadColour(0, 0) }, grp);
      el('text', { x: 10, y: 19, class: 'op-name' }, grp).textContent = truncate(n.name, 32);
      el('text', { x: 10, y: 36, class: 'op-par' }, grp).textContent = `#${n.id} · parallelism ${n.parallelism}${n.onMain ? ' · main thread' : ''}`;
      const rates = el('text', { x: 10, y: 50, class: 'op-rates' }, grp);
      const detail = el('text', { x: 10, y: 64, class: 'op-detail' }, grp);
      detail.textContent = 'waiting for metrics';
      const bw = NODE_W - 20;
      const bars = [
        el('rect', { x: 10, y: 71, width: 0, height: 6, class: 'bar-busy' }, grp),
        el('rect', { x: 10, y: 71, width: 0, height: 6, class: 'bar-bp' }, grp),
        el('rect', { x: 10, y: 71, width: bw, height: 6, class: 'bar-idle' }, grp),
      ] as const;
      this.drawn.set(n.id, { box, rates, detail, bars, parallelism: n.parallelism, name: n.name });
    }
    container.replaceChildren(svg);
  }

  /** Colours every operator by its most loaded subtask in this snapshot. */
  update(operators: readonly OperatorMetrics[]): void {
    for (const [id, d] of this.drawn) {
      // A source reports its watermark generator as a second operator of the same id: one thread's work, summed.
      const all = operators.filter((m) => m.id === id);
      const subtasks = all.filter((m) => m.name === d.name);
      if (subtasks.length === 0) continue;
      const busy = Math.min(1000, Math.max(...subtasks.map((s) => all.filter((m) => copyOf(m) === copyOf(s)).reduce((t, m) => t + (m.busyMsPerSecond ?? 0), 0))));
      const bp = Math.max(...all.map((m) => m.backPressuredMsPerSecond ?? 0));
      d.box.setAttribute('fill', loadColour(busy / 1000, bp / 1000));
      d.box.dataset['busy'] = String(Math.round(busy));
      d.box.dataset['backpressured'] = String(Math.round(bp));
      const inRate = subtasks.reduce((s, m) => s + (m.recordsInPerSecond ?? 0), 0);
      const outRate = subtasks.reduce((s, m) => s + (m.recordsOutPerSecond ?? 0), 0);
      d.rates.textContent = `in ${rate(inRate)} · out ${rate(outRate)}`;
      d.detail.textContent = `busy ${percent(busy)} · backpressured ${percent(bp)}`;
      const bw = NODE_W - 20;
      const wBusy = (bw * busy) / 1000;
      const wBp = (bw * Math.min(bp, 1000 - busy)) / 1000;
      d.bars[0].setAttribute('width', String(wBusy));
      d.bars[1].setAttribute('x', String(10 + wBusy));
      d.bars[1].setAttribute('width', String(wBp));
      d.bars[2].setAttribute('x', String(10 + wBusy + wBp));
      d.bars[2].setAttribute('width', String(Math.max(0, bw - wBusy - wBp)));
    }
  }

  get operatorIds(): number[] {
    return this.plan.nodes.map((n) => n.id);
  }
}

function rate(r: number): string {
  if (r >= 1e6) return `${(r / 1e6).toFixed(1)}M/s`;
  if (r >= 1e3) return `${(r / 1e3).toFixed(1)}K/s`;
  return `${r.toFixed(0)}/s`;
}
